// The random client workload of the chaos phase: proposals (to any member; followers forward),
// linearizable reads (ReadIndex with a unique context), leader transfers, forced campaigns, and
// membership changes one at a time (add learner, add voter, promote learner, remove voter or
// learner), keeping at least VOTERS_MIN voters so a working quorum stays possible.

import type { ConfChange, NodeId } from '../../src/raft/types.js';
import { ConfChangeType } from '../../src/raft/types.js';
import type { Cluster } from './cluster.js';
import { MEMBERS_MAX, TICK_UNITS } from './cluster.js';
import type { Host } from './host.js';
import { fmtCc } from './host.js';
import { encodeCommand } from './kv.js';
import { HOSTS_MAX } from './network.js';

/** Never shrink the voter set below this (removals would otherwise starve the cluster). */
export const VOTERS_MIN = 3;
/** Keys the workload writes; few, so that overwrites are common. */
const KEYS_COUNT = 8;

const textEncoder = new TextEncoder();
export function runClientAction(c: Cluster): void {
  const action = c.rng.weighted({ propose: 60, read: 15, conf: 4, transfer: 3, campaign: 1 });
  const up = [...c.hosts.values()].filter((h) => h.up);
  if (up.length === 0) return;
  const leader = up.find((h) => h.role() === 'Leader');
  switch (action) {
    case 'propose': return propose(c, leader !== undefined && c.rng.chance(0.5) ? leader : c.rng.pick(up));
    case 'read': return read(c, c.rng.pick(up));
    case 'conf': return leader === undefined ? undefined : confChange(c, leader);
    case 'transfer': return leader === undefined ? undefined : transfer(c, leader);
    case 'campaign': return campaign(c, c.rng.pick(up));
  }
}

function propose(c: Cluster, h: Host): void {
  const data = encodeCommand(`k${c.rng.int(0, KEYS_COUNT - 1)}`, `${c.opts.seed}-${c.opSeq++}`);
  c.history.counters.proposals++;
  if (!h.act('propose', (n) => n.propose(data))) c.history.counters.proposalsDropped++;
}

function read(c: Cluster, h: Host): void {
  const ctx = `r${c.opts.seed}-${c.opSeq++}`;
  c.checker.beginRead(h.id, ctx);
  c.history.counters.reads++;
  h.act('readIndex', (n) => n.readIndex(textEncoder.encode(ctx)));
}

function campaign(c: Cluster, h: Host): void {
  c.history.record(c.now(), `n${h.id}`, 'client: campaign');
  h.act('campaign', (n) => n.campaign());
}

function transfer(c: Cluster, leader: Host): void {
  const cs = leader.live?.sm.confState;
  const others = (cs?.voters ?? []).filter((v) => v !== leader.id);
  if (others.length === 0) return;
  const to = c.rng.pick(others);
  c.history.counters.transfers++;
  c.history.record(c.now(), `n${leader.id}`, `client: transfer leadership to ${to}`);
  leader.act('transferLeader', (n) => n.transferLeader(to));
}

/** Proposes one membership change on the leader, if none is in flight. */
function confChange(c: Cluster, leader: Host): void {
  if (c.now() < c.confQuietUntilUnits) return;
  const cc = pickConfChange(c, leader);
  if (cc === undefined) return;
  if (cc.type === ConfChangeType.AddLearnerNode || (cc.type === ConfChangeType.AddNode && !c.hosts.has(cc.nodeId))) {
    c.addHost(cc.nodeId).start(); // a joiner starts empty and learns the configuration from the leader
  }
  c.confQuietUntilUnits = c.now() + 40 * TICK_UNITS;
  c.history.counters.confChanges++;
  c.history.record(c.now(), `n${leader.id}`, `client: propose conf change ${fmtCc(cc)}`);
  leader.act('proposeConfChange', (n) => n.proposeConfChange(cc));
}

function pickConfChange(c: Cluster, leader: Host): ConfChange | undefined {
  const cs = leader.live?.sm.confState;
  if (cs === undefined) return undefined;
  const members = cs.voters.length + cs.learners.length;
  const fresh = (): NodeId => BigInt(c.nextNodeId++);
  const options: (() => ConfChange)[] = [];
  const context = new Uint8Array(0);
  if (members < MEMBERS_MAX && c.hosts.size < HOSTS_MAX) {
    options.push(() => ({ type: ConfChangeType.AddLearnerNode, nodeId: fresh(), context }));
    options.push(() => ({ type: ConfChangeType.AddNode, nodeId: fresh(), context }));
  }
  for (const l of cs.learners) {
    options.push(() => ({ type: ConfChangeType.AddNode, nodeId: l, context }));
    options.push(() => ({ type: ConfChangeType.RemoveNode, nodeId: l, context }));
  }
  if (cs.voters.length > VOTERS_MIN) {
    for (const v of cs.voters) options.push(() => ({ type: ConfChangeType.RemoveNode, nodeId: v, context }));
  }
  if (options.length === 0) return undefined;
  return c.rng.pick(options)();
}
