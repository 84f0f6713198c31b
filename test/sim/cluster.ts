// The deterministic cluster simulation: N members (hosts) in one process, a simulated network, a
// disk per member, a random client workload and random faults, all driven by one event queue and
// one seed. A run has two phases:
//
//   chaos     faults and workload run for `chaosTicks` ticks; safety invariants are checked at
//             every step (by the hosts' observations, see checker.ts)
//   recovery  faults heal (network whole, every member restarted, removed members shut down); a
//             leader must emerge and a marker proposal must be applied by every member within
//             LIVENESS_TICKS_MAX ticks
//
// runSimulation() never throws for a broken invariant: it returns a SimResult naming the seed, the
// invariant and a one-line replay command. Harness bugs (failed node:assert in test/sim) are
// reported the same way, marked as such, because they are also worth a replay.

import assert from 'node:assert/strict';
import type { ConfChange, ConfState, Message, NodeId } from '../../src/raft/types.js';
import { Checker, SimViolation } from './checker.js';
import { EventQueue } from './events.js';
import { FAULT_GAP_MAX_TICKS, injectFault, type FaultProfile } from './faults.js';
import { History, type RunCounters } from './history.js';
import { Host, fmtCs, type HostEnv, type HostTuning } from './host.js';
import { CALM_NETWORK, HOSTS_MAX, Network } from './network.js';
import { Rng } from './rng.js';
import { runClientAction } from './workload.js';
import { cloneMessage, fmtMsg } from './wire.js';

/** Requests a follower forwards to the leader on behalf of another node (keeping its `from`). */
const FORWARDED: ReadonlySet<string> = new Set(['MsgProp', 'MsgReadIndex', 'MsgTransferLeader']);
/** Time units per tick of every node's logical clock. */
export const TICK_UNITS = 10;
/** Ticks the recovered cluster gets to elect a leader and commit a marker everywhere. */
export const LIVENESS_TICKS_MAX = 400;
/** Hard bound on processed events per run (a bigger run is a message storm, i.e. a bug). */
export const STEPS_MAX = 2_000_000;
/** Most members ever configured at once (initial plus added). */
export const MEMBERS_MAX = 7;

export interface SimOptions {
  seed: number;
  /** Initial voters; drawn from the seed (3 or 5) when absent. */
  nodes?: number;
  chaosTicks?: number;
  /** Write every trace line to stderr as it happens. */
  trace?: boolean;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  /** "invariant: detail" when !ok. */
  failure?: string;
  harnessError?: boolean;
  replay: string;
  /** Initial voters, and voters in the latest applied configuration. */
  nodes: number;
  votersAtEnd: number;
  config: string;
  counters: RunCounters;
  traceTail: string[];
  timeUnits: number;
}

type SimEvent =
  | { kind: 'tick'; id: NodeId }
  | { kind: 'deliver'; msg: Message; sender: NodeId; fromInc: number }
  | { kind: 'write'; id: NodeId; inc: number }
  | { kind: 'apply'; id: NodeId; inc: number }
  | { kind: 'client' }
  | { kind: 'fault' }
  | { kind: 'heal' }
  | { kind: 'probe' }
  | { kind: 'retire'; id: NodeId }
  | { kind: 'crash'; id: NodeId; inc: number }
  | { kind: 'report'; from: NodeId; fromInc: number; to: NodeId; what: 'snapOk' | 'snapFailed' | 'unreachable' };

export function replayCommand(seed: number, opts: Pick<SimOptions, 'nodes' | 'chaosTicks'> = {}): string {
  const extra = `${opts.nodes !== undefined ? ` SIM_NODES=${opts.nodes}` : ''}` +
    `${opts.chaosTicks !== undefined ? ` SIM_TICKS=${opts.chaosTicks}` : ''}`;
  return `SIM_SEED=${seed}${extra} node --import tsx test/sim/replay.ts`;
}

export class Cluster implements HostEnv {
  readonly queue = new EventQueue<SimEvent>();
  readonly checker = new Checker();
  readonly history: History;
  readonly network: Network;
  readonly hosts = new Map<NodeId, Host>();
  readonly rng: Rng;
  readonly tuning: HostTuning;
  readonly initialNodes: number;
  /**
   * The seed's fault profile: calm (a fault every <= 30 ticks), stormy (<= 8) or churn (<= 4,
   * mostly leader crashes and quick restarts: many short terms with entries on minorities).
   */
  readonly faultProfile: FaultProfile;
  readonly faultGapMaxTicks: number;
  /** Latest configuration applied by any member, and the index it was applied at. */
  latestConf: ConfState;
  latestConfIndex = 0;
  /** Members removed by an applied conf change; their ids are never reused. */
  readonly removed = new Set<NodeId>();
  nextNodeId: number;
  /** No new conf change is proposed before this time (one at a time). */
  confQuietUntilUnits = 0;
  phase: 'chaos' | 'recovery' | 'done' = 'chaos';
  /** Counter for unique proposal values and read contexts. */
  opSeq = 0;
  private readonly hostRng: Rng;
  private liveness = { marker: '', proposedAtUnits: 0, proposedBy: 0n, seq: 0 };

  constructor(readonly opts: SimOptions) {
    this.rng = new Rng(opts.seed);
    this.history = new History(opts.trace === true);
    this.network = new Network(this.rng.fork('network'));
    this.hostRng = this.rng.fork('hosts');
    const n = opts.nodes ?? (this.rng.chance(0.5) ? 3 : 5);
    assert.ok(n >= 1 && n <= MEMBERS_MAX, `nodes out of range: ${n}`);
    this.initialNodes = n;
    this.faultProfile = this.rng.pick(['calm', 'stormy', 'churn'] as const);
    this.faultGapMaxTicks = FAULT_GAP_MAX_TICKS[this.faultProfile];
    this.tuning = drawTuning(this.rng.fork('tuning'));
    const voters = Array.from({ length: n }, (_, i) => BigInt(i + 1));
    this.latestConf = { voters, learners: [] };
    this.nextNodeId = n + 1;
    for (const id of voters) this.addHost(id).start(voters);
  }

  now(): number {
    return this.queue.now;
  }

  addHost(id: NodeId): Host {
    assert.ok(!this.hosts.has(id), `host ${id} exists`);
    assert.ok(this.hosts.size < HOSTS_MAX, 'too many hosts');
    const h = new Host(id, this, this.tuning, this.hostRng.fork(`n${id}`));
    this.hosts.set(id, h);
    this.queue.schedule(this.now() + this.hostRng.int(0, TICK_UNITS - 1), { kind: 'tick', id });
    return h;
  }

  send(from: NodeId, msg: Message): void {
    const fromHost = this.hosts.get(from);
    assert.ok(fromHost !== undefined);
    assert.ok(msg.from === from || FORWARDED.has(msg.type), `${msg.type} from ${from} claims to be from ${msg.from}`);
    if (msg.type === 'MsgVoteResp' && !msg.reject) this.checker.observeVoteGranted(from, msg.to, msg.term);
    if (this.opts.trace === true) this.history.record(this.now(), `n${from}`, `send ${fmtMsg(msg)}`);
    const delays = this.hosts.has(msg.to) ? this.network.sendDelays() : [];
    if (delays.length === 0) this.reportLoss(msg, from, fromHost.incarnation, true);
    for (const d of delays) {
      this.queue.schedule(this.now() + d, { kind: 'deliver', msg: cloneMessage(msg), sender: from, fromInc: fromHost.incarnation });
    }
  }

  scheduleWrite(id: NodeId, inc: number, atUnits: number): void {
    this.queue.schedule(atUnits, { kind: 'write', id, inc });
  }

  scheduleApply(id: NodeId, inc: number, atUnits: number): void {
    this.queue.schedule(atUnits, { kind: 'apply', id, inc });
  }

  confApplied(by: NodeId, index: number, cc: ConfChange, cs: ConfState): void {
    if (index > this.latestConfIndex) {
      this.latestConfIndex = index;
      this.latestConf = cs;
      this.confQuietUntilUnits = Math.min(this.confQuietUntilUnits, this.now() + 5 * TICK_UNITS);
      this.history.counters.confChangesApplied++;
    }
    if (cc.type !== 1) return;
    this.removed.add(cc.nodeId);
    // A member shuts itself down when it applies its own removal (as etcd does); in recovery the
    // operator also stops removed members that never learned of it.
    if (cc.nodeId === by || this.phase !== 'chaos') this.queue.schedule(this.now(), { kind: 'retire', id: cc.nodeId });
  }

  /** Runs the whole simulation; returns the verdict. */
  run(): SimResult {
    const chaosTicks = this.opts.chaosTicks ?? 300;
    this.queue.schedule(1, { kind: 'client' });
    this.queue.schedule(TICK_UNITS * 5, { kind: 'fault' });
    this.queue.schedule(chaosTicks * TICK_UNITS, { kind: 'heal' });
    try {
      this.loop();
      return this.result(undefined, false);
    } catch (err) {
      if (err instanceof SimViolation) return this.result(err.message, false);
      return this.result(`harness or core assertion: ${(err as Error).stack ?? String(err)}`, true);
    }
  }

  private loop(): void {
    for (;;) {
      const ev = this.queue.pop();
      if (ev === undefined || this.phase === 'done') return;
      this.history.counters.steps++;
      assert.ok(this.history.counters.steps <= STEPS_MAX, 'step budget exhausted (message storm?)');
      this.handle(ev.event);
    }
  }

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case 'tick': return this.onTick(ev.id);
      case 'deliver': return this.onDeliver(ev.msg, ev.sender, ev.fromInc);
      case 'write': return this.onDisk(ev.id, ev.inc, 'write');
      case 'apply': return this.onDisk(ev.id, ev.inc, 'apply');
      case 'client': return this.onClient();
      case 'fault': return this.onFault();
      case 'heal': return this.onHeal();
      case 'probe': return this.onProbe();
      case 'retire': return this.onRetire(ev.id);
      case 'crash': return this.onCrash(ev.id, ev.inc);
      case 'report': return this.onReport(ev.from, ev.fromInc, ev.to, ev.what);
      default: return assertNever(ev);
    }
  }

  private onTick(id: NodeId): void {
    const h = this.hosts.get(id);
    assert.ok(h !== undefined);
    if (h.retired) return;
    this.queue.schedule(this.now() + TICK_UNITS, { kind: 'tick', id });
    if (h.up) {
      this.history.counters.ticks++;
      h.act('tick', (n) => n.tick());
    }
  }

  /** `sender` is the host that put `msg` on the wire (a forwarded request keeps its `from`). */
  private onDeliver(msg: Message, sender: NodeId, fromInc: number): void {
    const to = this.hosts.get(msg.to);
    const arrived = to !== undefined && to.up && this.network.linkOpen(sender, msg.to);
    if (!arrived) {
      this.reportLoss(msg, sender, fromInc, false);
      return;
    }
    if (msg.type === 'MsgSnap') this.scheduleReport(msg, sender, fromInc, 'snapOk');
    if (this.opts.trace === true) this.history.record(this.now(), `n${msg.to}`, `recv ${fmtMsg(msg)}`);
    to.act(`step ${msg.type}`, (n) => n.step(msg));
  }

  /**
   * Tells the sender's transport what became of a lost message, as etcd's transport does: a
   * failed snapshot, or an unreachable peer for a MsgApp lost to a cut link or a down peer.
   * Messages lost at random in flight (`atSend`: a reset connection) are not reported as
   * unreachable, which is the harder case for the leader's flow control (FINDINGS.md F3).
   */
  private reportLoss(msg: Message, sender: NodeId, fromInc: number, atSend: boolean): void {
    if (msg.type === 'MsgSnap') this.scheduleReport(msg, sender, fromInc, 'snapFailed');
    if (msg.type === 'MsgApp' && !atSend) this.scheduleReport(msg, sender, fromInc, 'unreachable');
  }

  /** Reports reach the sender as their own step (never inside the sender's ready handling). */
  private scheduleReport(msg: Message, sender: NodeId, fromInc: number, what: 'snapOk' | 'snapFailed' | 'unreachable'): void {
    this.queue.schedule(this.now() + 1, { kind: 'report', from: sender, fromInc, to: msg.to, what });
  }

  private onReport(from: NodeId, fromInc: number, to: NodeId, what: 'snapOk' | 'snapFailed' | 'unreachable'): void {
    const h = this.hosts.get(from);
    if (h === undefined || h.incarnation !== fromInc) return;
    if (what === 'unreachable') h.act('reportUnreachable', (n) => n.reportUnreachable(to));
    else h.act('reportSnapshot', (n) => n.reportSnapshot(to, what === 'snapOk'));
  }

  private onDisk(id: NodeId, inc: number, what: 'write' | 'apply'): void {
    const h = this.hosts.get(id);
    assert.ok(h !== undefined);
    if (h.incarnation !== inc || !h.up) return; // lost with the crash
    if (what === 'write') h.completeWrite();
    else h.completeApply();
  }

  private onClient(): void {
    if (this.phase !== 'chaos') return;
    runClientAction(this);
    this.queue.schedule(this.now() + this.rng.int(1, 2 * TICK_UNITS), { kind: 'client' });
  }

  private onFault(): void {
    if (this.phase !== 'chaos') return;
    injectFault(this);
    this.queue.schedule(this.now() + this.rng.int(1, this.faultGapMaxTicks) * TICK_UNITS, { kind: 'fault' });
  }

  /** Crashes `id` later, unless it restarted meanwhile (a crash aimed at one incarnation). */
  crashSoon(id: NodeId, delayUnits: number): void {
    const h = this.hosts.get(id);
    assert.ok(h !== undefined);
    this.queue.schedule(this.now() + delayUnits, { kind: 'crash', id, inc: h.incarnation });
  }

  private onCrash(id: NodeId, inc: number): void {
    const h = this.hosts.get(id);
    if (this.phase !== 'chaos' || h === undefined || !h.up || h.incarnation !== inc) return;
    h.crash();
    this.history.counters.crashes++;
  }

  private onRetire(id: NodeId): void {
    const h = this.hosts.get(id);
    if (h !== undefined && !h.retired) h.retire();
  }

  /** Ends the chaos: whole network, every member up, removed members stopped. */
  private onHeal(): void {
    this.phase = 'recovery';
    this.network.heal();
    this.network.faults = CALM_NETWORK;
    for (const h of this.hosts.values()) {
      if (this.removed.has(h.id)) { if (!h.retired) h.retire(); continue; }
      if (!h.up && !h.retired) h.start();
    }
    this.history.record(this.now(), 'sim', `HEAL: members ${fmtCs(this.latestConf)}`);
    this.queue.schedule(this.now() + TICK_UNITS, { kind: 'probe' });
  }

  /** Recovery: find a leader, get a marker committed and applied by every member, in time. */
  private onProbe(): void {
    const healedAt = (this.opts.chaosTicks ?? 300) * TICK_UNITS;
    if (this.now() - healedAt > LIVENESS_TICKS_MAX * TICK_UNITS) {
      throw new SimViolation('liveness', `no leader committed a proposal to every member within ` +
        `${LIVENESS_TICKS_MAX} ticks after healing (members ${fmtCs(this.latestConf)}; marker ${this.liveness.marker}; ${this.roles()})`);
    }
    this.queue.schedule(this.now() + TICK_UNITS, { kind: 'probe' });
    const members = [...this.latestConf.voters, ...this.latestConf.learners];
    const lv = this.liveness;
    if (lv.marker !== '' && members.every((id) => this.hosts.get(id)?.live?.sm.kv.get('live') === lv.marker)) {
      this.history.counters.livenessChecks++;
      this.history.record(this.now(), 'sim', `LIVE: marker ${lv.marker} applied by ${members.join(',')}`);
      this.phase = 'done';
      return;
    }
    const leader = members.map((id) => this.hosts.get(id)).find((h) => h?.role() === 'Leader');
    if (leader === undefined) return;
    const stale = this.now() - lv.proposedAtUnits > 3 * this.tuning.electionTick * TICK_UNITS;
    if (lv.marker === '' || lv.proposedBy !== leader.id || stale) {
      lv.seq++;
      lv.marker = `m${lv.seq}`;
      lv.proposedAtUnits = this.now();
      lv.proposedBy = leader.id;
      const data = new TextEncoder().encode(`live=${lv.marker}`);
      leader.act('propose marker', (n) => n.propose(data));
    }
  }

  roles(): string {
    return [...this.hosts.values()].map((h) => {
      const l = h.live;
      if (l === undefined) return `n${h.id}:${h.retired ? 'Retired' : 'Down'}`;
      const prs = [...l.node.status().progress].map(([id, p]) => `${id}:${p.state} m${p.match} n${p.next}`);
      return `n${h.id}:${h.role()}(t${l.hardState.term} c${l.hardState.commit} a${l.sm.applied} w${l.writes.length} ` +
        `last${l.mirror.lastIndex()} live=${l.sm.kv.get('live') ?? '-'}${prs.length > 0 ? ` progress ${prs.join(', ')}` : ''})`;
    }).join(' ');
  }

  private result(failure: string | undefined, harnessError: boolean): SimResult {
    const o = this.opts;
    this.history.counters.readsMisrouted = this.checker.misroutedReads;
    const r: SimResult = {
      seed: o.seed, ok: failure === undefined, replay: replayCommand(o.seed, o),
      nodes: this.initialNodes, votersAtEnd: this.latestConf.voters.length,
      config: `${describeTuning(this.tuning)} faults=${this.faultProfile}`,
      counters: this.history.counters, traceTail: this.history.tail(40), timeUnits: this.now(),
    };
    if (failure !== undefined) {
      r.failure = failure;
      r.harnessError = harnessError;
      this.history.record(this.now(), 'sim', `FAILED ${failure.split('\n')[0] ?? ''}`);
    }
    return r;
  }
}

function drawTuning(rng: Rng): HostTuning {
  return {
    electionTick: 10, heartbeatTick: 1, preVote: rng.chance(0.6), checkQuorum: rng.chance(0.6),
    maxSizePerMsg: rng.pick([1, 64, 1024, 1 << 20]), maxInflightMsgs: rng.int(1, 8),
    diskDelayMaxUnits: rng.int(1, 25), applyDelayMaxUnits: rng.int(0, 15),
    snapshotEveryEntries: rng.int(5, 60), compactKeepEntries: rng.int(0, 8),
  };
}

function describeTuning(t: HostTuning): string {
  return `preVote=${t.preVote} checkQuorum=${t.checkQuorum} maxSizePerMsg=${t.maxSizePerMsg} ` +
    `inflight=${t.maxInflightMsgs} disk<=${t.diskDelayMaxUnits} apply<=${t.applyDelayMaxUnits} ` +
    `snapEvery=${t.snapshotEveryEntries} keep=${t.compactKeepEntries}`;
}

function assertNever(x: never): never {
  throw new Error(`unexpected event ${JSON.stringify(x)}`);
}

export function runSimulation(opts: SimOptions): SimResult {
  return new Cluster(opts).run();
}

