// Unit tests of the raft core's pieces and of the rules that transcripts show less directly:
// storage semantics, flow-control bounds, the conf change codec, and the durability rules of the
// pipelined protocol (nothing applied or counted before the host reports it persisted).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyChange, decodeConfChange, encodeConfChange } from '../../src/raft/confchange.js';
import { Inflights, Progress } from '../../src/raft/progress.js';
import { RawNode } from '../../src/raft/rawnode.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { ConfChangeType, EntryType, RaftError } from '../../src/raft/types.js';
import type { Entry, NodeId, RaftConfig } from '../../src/raft/types.js';
import { newMessage } from '../../src/raft/raft.js';

const ent = (term: number, index: number, data = ''): Entry =>
  ({ term, index, type: EntryType.Normal, data: new TextEncoder().encode(data) });

function config(id: NodeId, storage: MemoryStorage, over: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id, storage, applied: 0, electionTick: 10, heartbeatTick: 1, maxSizePerMsg: 1 << 20, maxInflightMsgs: 4,
    maxUncommittedEntriesSize: 0, preVote: true, checkQuorum: true, seed: 7, ...over,
  };
}

test('MemoryStorage: append replaces a conflicting suffix, compact and term errors', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(1, 2), ent(1, 3)]);
  s.append([ent(2, 2)]);
  assert.equal(s.lastIndex(), 2);
  assert.equal(s.term(2), 2);
  s.append([ent(2, 3), ent(2, 4)]);
  s.createSnapshot(3, { voters: [1n], learners: [] }, new Uint8Array([9]));
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.term(3), 2);
  assert.throws(() => s.term(2), (e: unknown) => e instanceof RaftError && e.code === 'Compacted');
  assert.throws(() => s.entries(3, 5, 100), (e: unknown) => e instanceof RaftError && e.code === 'Compacted');
  assert.throws(() => s.term(9), (e: unknown) => e instanceof RaftError && e.code === 'Unavailable');
  assert.deepEqual(s.entries(4, 5, 0).map((e) => e.index), [4], 'at least one entry even over maxBytes');
  assert.throws(() => s.applySnapshot(s.snapshot()), (e: unknown) => e instanceof RaftError && e.code === 'SnapOutOfDate');
});

test('Inflights: bounded window, freed by acknowledgement', () => {
  const inf = new Inflights(3);
  inf.add(1); inf.add(2); inf.add(5);
  assert.ok(inf.full());
  assert.throws(() => inf.add(6));
  inf.freeLE(2);
  assert.equal(inf.count, 1);
  inf.add(6); inf.add(7);
  assert.ok(inf.full());
  inf.freeLE(7);
  assert.equal(inf.count, 0);
});

test('Progress: probe backs off with the hint, stale rejections are ignored', () => {
  const pr = new Progress(11, 4, false);
  assert.ok(pr.maybeDecrTo(10, 4));
  assert.equal(pr.next, 5);
  assert.ok(!pr.maybeDecrTo(10, 2), 'a rejection of an older probe is stale');
  pr.maybeUpdate(5);
  pr.becomeReplicate();
  assert.equal(pr.next, 6);
  assert.ok(!pr.maybeDecrTo(4, 0), 'rejection at or below match is stale in replicate');
});

test('ConfChange: codec round trip and one-change semantics', () => {
  const cc = { type: ConfChangeType.AddLearnerNode, nodeId: 0xfedcba9876543210n, context: new Uint8Array([1, 2]) };
  assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
  let cs = { voters: [1n, 2n], learners: [] as NodeId[] };
  cs = applyChange(cs, { type: ConfChangeType.AddLearnerNode, nodeId: 3n, context: new Uint8Array() });
  assert.deepEqual(cs, { voters: [1n, 2n], learners: [3n] });
  cs = applyChange(cs, { type: ConfChangeType.AddNode, nodeId: 3n, context: new Uint8Array() });
  assert.deepEqual(cs, { voters: [1n, 2n, 3n], learners: [] });
  cs = applyChange(cs, { type: ConfChangeType.AddLearnerNode, nodeId: 3n, context: new Uint8Array() });
  assert.deepEqual(cs.voters, [1n, 2n, 3n], 'no demotion of a voter');
  cs = applyChange(cs, { type: ConfChangeType.RemoveNode, nodeId: 1n, context: new Uint8Array() });
  assert.deepEqual(cs, { voters: [2n, 3n], learners: [] });
});

test('single voter: leader and commit only after the host reports writes persisted', () => {
  const s = new MemoryStorage();
  RawNode.bootstrap(s, [1n]);
  const n = new RawNode(config(1n, s));
  n.campaign();
  let rd = n.ready();
  assert.equal(rd.hardState?.vote, 1n);
  assert.ok(rd.mustSync);
  n.advance(rd);
  assert.notEqual(n.status().softState.raftState, 'Leader', 'own vote not yet durable');
  s.setHardState(rd.hardState!);
  n.onPersisted({ index: 1, term: 1 });
  assert.equal(n.status().softState.raftState, 'Leader');
  n.propose(new TextEncoder().encode('x'));
  rd = n.ready();
  assert.deepEqual(rd.entries.map((e) => e.index), [2, 3]);
  assert.equal(rd.committedEntries.length, 0);
  n.advance(rd);
  assert.ok(!n.hasReady(), 'nothing commits before persistence');
  s.append(rd.entries);
  n.onPersisted({ index: 3, term: 1 });
  rd = n.ready();
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [2, 3]);
  n.advance(rd);
});

test('follower: acks wait for persistence, committed entries only once persisted', () => {
  const s = new MemoryStorage();
  RawNode.bootstrap(s, [1n, 2n]);
  const n = new RawNode(config(2n, s));
  n.step(newMessage({ type: 'MsgApp', from: 1n, to: 2n, term: 1, index: 1, logTerm: 1, commit: 2, entries: [ent(1, 2, 'a')] }));
  const rd = n.ready();
  assert.equal(rd.entries.length, 1);
  assert.equal(rd.committedEntries.length, 0, 'entry 2 is committed but not yet durable here');
  const resp = rd.messages.find((m) => m.type === 'MsgAppResp');
  assert.ok(resp?.afterPersist, 'the ack leaves only after the write');
  n.advance(rd);
  s.append(rd.entries);
  s.setHardState(rd.hardState!);
  n.onPersisted({ index: 2, term: 1 });
  const rd2 = n.ready();
  assert.deepEqual(rd2.committedEntries.map((e) => e.index), [2]);
  n.advance(rd2);
  // A stale report (an overwritten term) is ignored and never crashes.
  n.onPersisted({ index: 2, term: 9 });
});

test('restart: configuration = snapshot + conf changes up to applied; config validated', () => {
  const s = new MemoryStorage();
  RawNode.bootstrap(s, [1n]);
  const cc = { type: ConfChangeType.AddNode, nodeId: 2n, context: new Uint8Array() };
  s.append([ent(1, 2), { term: 1, index: 3, type: EntryType.ConfChange, data: encodeConfChange(cc) }]);
  s.setHardState({ term: 1, vote: 1n, commit: 3 });
  const n = new RawNode(config(1n, s, { applied: 3 }));
  assert.deepEqual(n.status().confState.voters, [1n, 2n]);
  assert.equal(n.status().hardState.commit, 3);
  const fresh = new RawNode(config(1n, s, { applied: 1 }));
  assert.deepEqual(fresh.status().confState.voters, [1n], 'the host re-applies index 3 itself');
  assert.throws(() => new RawNode(config(1n, s, { electionTick: 1 })));
});

test('errors: local messages cannot be stepped, proposals without a leader are dropped', () => {
  const s = new MemoryStorage();
  RawNode.bootstrap(s, [1n, 2n, 3n]);
  const n = new RawNode(config(1n, s));
  assert.throws(() => n.step(newMessage({ type: 'MsgHup', from: 1n })), (e: unknown) => e instanceof RaftError && e.code === 'StepLocalMsg');
  assert.throws(() => n.propose(new Uint8Array(1)), (e: unknown) => e instanceof RaftError && e.code === 'ProposalDropped');
  assert.throws(() => n.readIndex(new Uint8Array(1)), (e: unknown) => e instanceof RaftError && e.code === 'ProposalDropped');
});

test('election timeout is randomized in [electionTick, 2*electionTick) and fixed by the seed', () => {
  const firstCampaignTick = (seed: number): number => {
    const s = new MemoryStorage();
    RawNode.bootstrap(s, [1n, 2n, 3n]);
    const n = new RawNode(config(1n, s, { seed }));
    for (let t = 1; t <= 100; t++) {
      n.tick();
      if (n.hasReady()) return t;
    }
    return -1;
  };
  const ticks = [1, 2, 3, 4, 5, 6, 7, 8].map(firstCampaignTick);
  for (const t of ticks) assert.ok(t >= 10 && t < 20, `campaign at tick ${t}`);
  assert.ok(new Set(ticks).size > 1, 'different seeds give different timeouts');
  assert.deepEqual([1, 2].map(firstCampaignTick), ticks.slice(0, 2), 'same seed, same timeout');
});

test('Progress: a full window pauses the flow; a heartbeat response lets one empty MsgApp through (F3)', () => {
  const pr = new Progress(1, 2, false);
  pr.becomeReplicate();
  pr.sentEntries(1);
  assert.ok(!pr.isPaused() && pr.canSendEntries());
  pr.sentEntries(2);
  assert.ok(pr.isPaused(), 'a full window pauses');
  assert.equal(pr.next, 4);
  pr.resumeMsgAppFlow();
  assert.ok(!pr.isPaused(), 'a heartbeat response resumes the flow');
  assert.ok(!pr.canSendEntries(), 'but only an empty MsgApp may pass a full window');
  pr.sentEntries(0);
  assert.ok(pr.isPaused(), 'one probe per heartbeat response');
  assert.equal(pr.inflights.count, 2, 'the window still tells what is in flight');
  assert.ok(pr.maybeUpdate(3));
  pr.inflights.freeLE(3);
  assert.ok(!pr.isPaused() && pr.canSendEntries(), 'an ack of the probe frees the window');
});

test('leader: a stalled full window resynchronizes on a heartbeat response (F3)', () => {
  const s = new MemoryStorage();
  RawNode.bootstrap(s, [1n, 2n]);
  const n = new RawNode(config(1n, s, { maxInflightMsgs: 1, checkQuorum: false, preVote: false }));
  n.campaign();
  let rd = n.ready();
  n.advance(rd);
  s.setHardState(rd.hardState!);
  n.onPersisted({ index: 1, term: 1 });
  n.step(newMessage({ type: 'MsgVoteResp', from: 2n, to: 1n, term: 1 }));
  assert.equal(n.status().softState.raftState, 'Leader');
  n.advance(n.ready());
  n.step(newMessage({ type: 'MsgAppResp', from: 2n, to: 1n, term: 1, index: 2 })); // 2 acks the empty entry
  assert.equal(n.status().progress.get(2n)?.state, 'Replicate');
  n.propose(new TextEncoder().encode('x'));
  rd = n.ready(); // every MsgApp in it is "lost"; the window (1) is full after entry 3's
  n.advance(rd);
  n.propose(new TextEncoder().encode('y'));
  rd = n.ready();
  n.advance(rd);
  assert.ok(!rd.messages.some((m) => m.type === 'MsgApp'), 'entry 4 waits for the full window');
  n.step(newMessage({ type: 'MsgHeartbeatResp', from: 2n, to: 1n, term: 1 }));
  rd = n.ready();
  const probes = rd.messages.filter((m) => m.type === 'MsgApp');
  assert.equal(probes.length, 1, 'one MsgApp per heartbeat response');
  assert.ok(probes[0]!.entries.length === 0 && probes[0]!.index === 3, 'empty, from next');
  n.advance(rd);
  n.step(newMessage({ type: 'MsgAppResp', from: 2n, to: 1n, term: 1, index: 3, reject: true, rejectHint: 2 }));
  assert.equal(n.status().progress.get(2n)?.state, 'Probe', 'a rejection drops the follower to Probe');
  rd = n.ready();
  const resend = rd.messages.find((m) => m.type === 'MsgApp');
  assert.deepEqual(resend?.entries.map((e) => e.index), [3, 4], 'and the leader resends from match');
});

test('follower: a snapshot is not counted durable until reported persisted (F5)', () => {
  const s = new MemoryStorage();
  RawNode.bootstrap(s, [1n, 2n]);
  const n = new RawNode(config(2n, s));
  const snap = { metadata: { index: 9, term: 1, confState: { voters: [1n, 2n], learners: [] } }, data: new Uint8Array([1]) };
  n.step(newMessage({ type: 'MsgSnap', from: 1n, to: 2n, term: 1, snapshot: snap }));
  const log = n.raft.log;
  assert.ok(log.stableLastIndex() < 9, 'the pending snapshot is not durable');
  const rd = n.ready();
  const ack = rd.messages.find((m) => m.type === 'MsgAppResp');
  assert.ok(ack !== undefined && ack.index === 9 && ack.afterPersist, 'its ack waits for the write');
  n.advance(rd);
  s.applySnapshot(rd.snapshot!);
  s.setHardState(rd.hardState!);
  n.onPersisted({ index: 9, term: 1, snapshotIndex: 9 });
  assert.equal(log.stableLastIndex(), 9);
});

test('restart: a snapshot past the stored commit raises the commit index (F2)', () => {
  const s = new MemoryStorage();
  RawNode.bootstrap(s, [1n]);
  s.append([ent(1, 2), ent(1, 3), ent(1, 4)]);
  s.setHardState({ term: 1, vote: 1n, commit: 4 });
  s.createSnapshot(3, { voters: [1n], learners: [] }, new Uint8Array([1]));
  s.compact(3);
  s.setHardState({ term: 1, vote: 1n, commit: 2 }); // the last hard-state write lagged
  const n = new RawNode(config(1n, s, { applied: 3 }));
  assert.equal(n.status().hardState.commit, 3);
  const raised = new MemoryStorage();
  raised.append([ent(1, 1), ent(1, 2)]);
  raised.createSnapshot(2, { voters: [1n], learners: [] }, new Uint8Array([1]));
  assert.equal(raised.initialState().hardState.commit, 2, 'createSnapshot raises the stored commit');
});
