// Raft core micro-benchmark: a 3-node cluster in one process with no I/O. Messages are delivered
// in-process, storage is MemoryStorage, and every persist is acknowledged at once, so the figures
// are the cost of the consensus core itself (src/raft), not of disks or sockets.
//
// Two modes: batching on (`batch` proposals per ready cycle, the way raft-node coalesces a burst
// of client requests) and off (batch = 1: one proposal, then the cluster runs until it settles).
// It prints committed entries/s (wall clock) and microseconds of CPU time per entry
// (process.cpuUsage, user + system), as JSON and a table.
//
//   node --import tsx bench/raft-sim.ts [entries=50000] [batch=256]

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { decodeConfChange } from '../src/raft/confchange.js';
import { RawNode } from '../src/raft/rawnode.js';
import { MemoryStorage } from '../src/raft/storage.js';
import { EntryType } from '../src/raft/types.js';
import type { Message, NodeId } from '../src/raft/types.js';

const PAYLOAD_BYTES = 128;
/** Bound on ready/deliver rounds per cycle; a cycle that does not settle is a bug. */
const CYCLE_ROUNDS_MAX = 10_000;
/** Log entries kept behind the applied index when the bench compacts storage. */
const COMPACT_KEEP_ENTRIES = 1_000;

export interface RaftSimBenchResult {
  entries: number;
  batch: number;
  wallMs: number;
  cpuUs: number;
  entriesPerSec: number;
  cpuUsPerEntry: number;
}

interface BenchNode {
  node: RawNode;
  storage: MemoryStorage;
  applied: number;
}

function makeCluster(): Map<NodeId, BenchNode> {
  const ids = [1n, 2n, 3n];
  const nodes = new Map<NodeId, BenchNode>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    RawNode.bootstrap(storage, ids);
    const node = new RawNode({
      id, storage, applied: 0, electionTick: 10, heartbeatTick: 1, maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 256, maxUncommittedEntriesSize: 0, preVote: true, checkQuorum: true, seed: Number(id),
    });
    nodes.set(id, { node, storage, applied: 0 });
  }
  return nodes;
}

/** Hands out one Ready, persists it at once, applies it; returns the messages to deliver. */
function processReady(b: BenchNode): Message[] {
  const rd = b.node.ready();
  if (rd.snapshot) b.storage.applySnapshot(rd.snapshot);
  b.storage.append(rd.entries);
  if (rd.hardState) b.storage.setHardState(rd.hardState);
  b.node.advance(rd);
  const log = b.node.raft.log;
  b.node.onPersisted({ index: log.lastIndex(), term: log.lastTerm() });
  const last = rd.committedEntries[rd.committedEntries.length - 1];
  if (last !== undefined) {
    for (const e of rd.committedEntries) if (e.type === EntryType.ConfChange) b.node.applyConfChange(decodeConfChange(e.data));
    b.node.onApplied(last.index);
    b.applied = last.index;
  }
  return rd.messages;
}

/** Runs readies and deliveries until the cluster is quiet. */
function settle(nodes: Map<NodeId, BenchNode>): void {
  for (let round = 0; round < CYCLE_ROUNDS_MAX; round++) {
    const msgs: Message[] = [];
    for (const b of nodes.values()) while (b.node.hasReady()) for (const m of processReady(b)) msgs.push(m);
    if (msgs.length === 0) return;
    for (const m of msgs) nodes.get(m.to)!.node.step(m);
  }
  assert.fail('cluster did not settle');
}

function compactAll(nodes: Map<NodeId, BenchNode>): void {
  for (const b of nodes.values()) {
    const to = b.applied - COMPACT_KEEP_ENTRIES;
    if (to <= b.storage.firstIndex() + COMPACT_KEEP_ENTRIES) continue;
    b.storage.createSnapshot(to, b.node.status().confState, new Uint8Array(0));
    b.storage.compact(to);
  }
}

export async function runRaftSimBench(opts: { entries: number; batch: number }): Promise<RaftSimBenchResult> {
  assert.ok(opts.entries > 0 && opts.batch > 0, 'entries and batch must be positive');
  const nodes = makeCluster();
  const leader = nodes.get(1n)!;
  leader.node.campaign();
  settle(nodes);
  assert.equal(leader.node.status().softState.raftState, 'Leader', 'node 1 must lead');
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(0x61);
  const start = leader.applied;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let proposed = 0; proposed < opts.entries;) {
    const n = Math.min(opts.batch, opts.entries - proposed);
    for (let i = 0; i < n; i++) leader.node.propose(payload);
    proposed += n;
    settle(nodes);
    if (proposed % 10_000 < n) compactAll(nodes);
  }
  const wallNs = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const committed = leader.applied - start;
  assert.equal(committed, opts.entries, 'every proposal was committed and applied on the leader');
  for (const b of nodes.values()) assert.equal(b.applied, leader.applied, 'followers applied everything');
  const cpuUs = cpu.user + cpu.system;
  return {
    entries: committed, batch: opts.batch, wallMs: wallNs / 1e6, cpuUs,
    entriesPerSec: Math.round(committed / (wallNs / 1e9)), cpuUsPerEntry: Number((cpuUs / committed).toFixed(2)),
  };
}

async function main(): Promise<void> {
  const entries = Number(process.argv[2] ?? 50_000);
  const batch = Number(process.argv[3] ?? 256);
  await runRaftSimBench({ entries: Math.min(entries, 2_000), batch }); // warm-up (JIT)
  const results = [
    await runRaftSimBench({ entries, batch }),
    await runRaftSimBench({ entries: Math.max(1, Math.floor(entries / 5)), batch: 1 }),
  ];
  console.log(JSON.stringify({ bench: 'raft-sim', payloadBytes: PAYLOAD_BYTES, node: process.version, results }, null, 2));
  console.log('\nmode        batch  entries   entries/s   cpu us/entry');
  for (const r of results) {
    const mode = r.batch > 1 ? 'batched' : 'unbatched';
    console.log(`${mode.padEnd(10)} ${String(r.batch).padStart(6)} ${String(r.entries).padStart(8)} ${String(r.entriesPerSec).padStart(11)} ${String(r.cpuUsPerEntry).padStart(14)}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
