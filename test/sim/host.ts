// One simulated member: a RawNode over its own stable MemoryStorage, driven exactly the way a real
// raft-node actor drives it under the pipelined storage protocol (see src/raft/types.ts):
//
//   ready() -> send immediate messages -> queue the write (disk FIFO, simulated delay)
//           -> queue the committed entries for apply (apply FIFO, simulated delay) -> advance()
//   write done  -> append to stable storage, send afterPersist messages, onPersisted()
//   apply done  -> state machine, applyConfChange for conf entries, onApplied(), maybe compact
//
// A crash throws away the RawNode, the state machine and every queued write and apply; only what
// reached the MemoryStorage survives, and restart() rebuilds the node from it. Every handed-out
// record is shown to the checker at the moment the host first sees it.

import assert from 'node:assert/strict';
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, RawNodeApi, Ready, Snapshot } from '../../src/raft/types.js';
import { RaftError } from '../../src/raft/types.js';
import { bootstrapStorage, decodeConfChange, newRawNode, newStorage, type SimStorage } from './core.js';
import type { Checker } from './checker.js';
import type { History } from './history.js';
import { KvStateMachine, fingerprint } from './kv.js';
import { MirrorLog } from './mirror.js';
import type { Rng } from './rng.js';

/** Bound on queued writes per node; a longer disk queue means the host stopped completing them. */
export const WRITES_QUEUED_MAX = 10_000;
/** Bound on queued applies per node, for the same reason. */
export const APPLIES_QUEUED_MAX = 10_000;
/** Bound on reads waiting for apply per node. */
export const READS_WAITING_MAX = 1_000;

export interface HostTuning {
  electionTick: number;
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  diskDelayMaxUnits: number;
  applyDelayMaxUnits: number;
  /** Create a snapshot once this many entries were applied past the last one. */
  snapshotEveryEntries: number;
  /** Entries kept in the log behind a snapshot (so slow followers can still get entries). */
  compactKeepEntries: number;
}

/** What a host needs from the cluster around it. */
export interface HostEnv {
  now(): number;
  checker: Checker;
  history: History;
  send(from: NodeId, msg: Message): void;
  scheduleWrite(id: NodeId, incarnation: number, atUnits: number): void;
  scheduleApply(id: NodeId, incarnation: number, atUnits: number): void;
  confApplied(by: NodeId, index: number, cc: ConfChange, cs: ConfState): void;
}

interface PendingWrite {
  entries: Entry[];
  hardState?: HardState;
  snapshot?: Snapshot;
  after: Message[];
  /** The log position this write makes durable (the last entry handed out up to it). */
  index: number;
  term: number;
  doneAtUnits: number;
}

type PendingApply =
  | { kind: 'entries'; entries: Entry[]; doneAtUnits: number }
  | { kind: 'restore'; snapshot: Snapshot; doneAtUnits: number };

/** The parts of a member that die with its process. */
interface Live {
  node: RawNodeApi;
  mirror: MirrorLog;
  sm: KvStateMachine;
  writes: PendingWrite[];
  applies: PendingApply[];
  /** Reads answered by raft (ReadState) waiting for apply to reach their index. */
  readsWaiting: { index: number; ctx: string }[];
  /** Last hard state handed out (what this incarnation acts upon). */
  hardState: HardState;
  role: string;
}

const ctxDecoder = new TextDecoder();

export class Host {
  readonly storage: SimStorage = newStorage();
  /** Bumped by each crash; events of an older incarnation are void. */
  incarnation = 0;
  live: Live | undefined;
  /** Set once this member has been removed from the cluster and shut down for good. */
  retired = false;

  constructor(
    readonly id: NodeId,
    private readonly env: HostEnv,
    private readonly tuning: HostTuning,
    private readonly rng: Rng,
  ) {}

  get up(): boolean {
    return this.live !== undefined;
  }

  /** Starts the process from stable storage (or bootstraps a brand-new initial member). */
  start(bootstrapVoters?: NodeId[]): void {
    assert.ok(this.live === undefined && !this.retired, `node ${this.id} is already running or retired`);
    if (bootstrapVoters !== undefined) bootstrapStorage(this.storage, bootstrapVoters);
    const snap = this.storage.snapshot();
    const init = this.storage.initialState();
    const t = this.tuning;
    const node = newRawNode({
      id: this.id, electionTick: t.electionTick, heartbeatTick: t.heartbeatTick, storage: this.storage,
      applied: snap.metadata.index, maxSizePerMsg: t.maxSizePerMsg, maxInflightMsgs: t.maxInflightMsgs,
      maxUncommittedEntriesSize: 0, preVote: t.preVote, checkQuorum: t.checkQuorum,
      seed: this.rng.nextU32(),
    });
    const sm = KvStateMachine.restore(snap.data, snap.metadata.index, snap.metadata.confState);
    this.env.checker.observeRestore(this.id, sm.applied, sm.digest);
    this.live = {
      node, mirror: this.mirrorFromStorage(), sm, writes: [], applies: [], readsWaiting: [],
      hardState: { ...init.hardState }, role: 'Follower',
    };
    this.checkStableCommitted(init.hardState.commit);
    this.env.history.record(this.env.now(), `n${this.id}`,
      `start inc=${this.incarnation} snap=${snap.metadata.index} last=${this.storage.lastIndex()} hs=${fmtHs(init.hardState)}`);
    this.drain();
  }

  crash(): void {
    assert.ok(this.live !== undefined, 'crash of a node that is down');
    const lost = this.live.writes.length;
    this.live = undefined;
    this.incarnation++;
    this.env.history.record(this.env.now(), `n${this.id}`, `CRASH (lost ${lost} in-flight writes)`);
  }

  retire(): void {
    if (this.live !== undefined) this.crash();
    this.retired = true;
    this.env.history.record(this.env.now(), `n${this.id}`, 'retired (removed from the cluster)');
  }

  /** The node's core, when up. */
  get node(): RawNodeApi | undefined {
    return this.live?.node;
  }

  role(): string {
    return this.live?.role ?? 'Down';
  }

  /** Runs `fn` against the live core, then hands out whatever it produced. */
  act(what: string, fn: (node: RawNodeApi) => void): boolean {
    const l = this.live;
    if (l === undefined) return false;
    try {
      fn(l.node);
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      this.env.history.record(this.env.now(), `n${this.id}`, `${what}: ${err.code}`);
      this.drain();
      return false;
    }
    this.drain();
    return true;
  }

  /** Hands out every pending Ready, following the pipelined protocol. */
  drain(): void {
    for (let rounds = 0; this.live !== undefined && this.live.node.hasReady(); rounds++) {
      assert.ok(rounds < 1_000, `node ${this.id}: hasReady() never settles`);
      const l = this.live;
      const rd = l.node.ready();
      this.observeReady(l, rd);
      for (const m of rd.messages) {
        assert.notEqual(m.to, this.id, 'message to self');
        if (!m.afterPersist) this.env.send(this.id, m);
      }
      this.queueWrite(l, rd);
      this.queueApply(l, rd);
      l.node.advance(rd);
    }
  }

  private queueWrite(l: Live, rd: Ready): void {
    const after = rd.messages.filter((m) => m.afterPersist);
    if (rd.entries.length === 0 && rd.hardState === undefined && rd.snapshot === undefined && after.length === 0) return;
    assert.ok(l.writes.length < WRITES_QUEUED_MAX, 'write queue overflow');
    // Group commit: each write has its own latency but completes in order, never before the
    // previous one (a WAL fsyncs batches; it does not serialize one fsync per ready).
    const prevDone = l.writes[l.writes.length - 1]?.doneAtUnits ?? this.env.now();
    const doneAtUnits = Math.max(prevDone, this.env.now() + this.rng.int(1, this.tuning.diskDelayMaxUnits));
    const w: PendingWrite = {
      entries: rd.entries, after, index: l.mirror.lastIndex(), term: l.mirror.lastTerm(), doneAtUnits,
    };
    if (rd.hardState !== undefined) w.hardState = rd.hardState;
    if (rd.snapshot !== undefined) w.snapshot = rd.snapshot;
    l.writes.push(w);
    this.env.scheduleWrite(this.id, this.incarnation, doneAtUnits);
  }

  private queueApply(l: Live, rd: Ready): void {
    if (rd.committedEntries.length === 0) return;
    // The contract: a node only hands out for apply what it has itself persisted.
    for (const e of rd.committedEntries) {
      const stableTerm = this.stableTerm(e.index);
      assert.ok(stableTerm === e.term,
        `node ${this.id} handed out ${e.index}:${e.term} for apply but stable storage has ${stableTerm ?? 'nothing'} there`);
    }
    this.pushApply(l, { kind: 'entries', entries: rd.committedEntries, doneAtUnits: 0 });
  }

  private pushApply(l: Live, item: PendingApply): void {
    assert.ok(l.applies.length < APPLIES_QUEUED_MAX, 'apply queue overflow');
    const prevDone = l.applies[l.applies.length - 1]?.doneAtUnits ?? this.env.now();
    item.doneAtUnits = Math.max(prevDone, this.env.now() + this.rng.int(0, this.tuning.applyDelayMaxUnits));
    l.applies.push(item);
    this.env.scheduleApply(this.id, this.incarnation, item.doneAtUnits);
  }

  /** The disk finished the oldest queued write. */
  completeWrite(): void {
    const l = this.live;
    assert.ok(l !== undefined);
    const w = l.writes.shift();
    assert.ok(w !== undefined && w.doneAtUnits === this.env.now(), 'write completion out of order');
    if (w.snapshot !== undefined) {
      this.storage.applySnapshot(w.snapshot);
      this.pushApply(l, { kind: 'restore', snapshot: w.snapshot, doneAtUnits: 0 });
    }
    if (w.entries.length > 0) this.storage.append(w.entries);
    if (w.hardState !== undefined) this.storage.setHardState(w.hardState);
    for (const m of w.after) this.env.send(this.id, m);
    const p: { index: number; term: number; snapshotIndex?: number } = { index: w.index, term: w.term };
    if (w.snapshot !== undefined) p.snapshotIndex = w.snapshot.metadata.index;
    l.node.onPersisted(p);
    this.drain();
  }

  /** The state machine finished the oldest queued apply. */
  completeApply(): void {
    const l = this.live;
    assert.ok(l !== undefined);
    const a = l.applies.shift();
    assert.ok(a !== undefined && a.doneAtUnits === this.env.now(), 'apply completion out of order');
    if (a.kind === 'restore') {
      this.restoreStateMachine(l, a.snapshot);
    } else {
      for (const e of a.entries) this.applyEntry(l, e);
      if (this.live !== l) return; // the node removed itself and retired
      l.node.onApplied(l.sm.applied);
      this.maybeCompact(l);
    }
    this.serveReads(l);
    this.drain();
  }

  private restoreStateMachine(l: Live, snap: Snapshot): void {
    const idx = snap.metadata.index;
    assert.ok(idx > l.sm.applied, `node ${this.id} installs snapshot ${idx} at or below applied ${l.sm.applied}`);
    l.sm = KvStateMachine.restore(snap.data, idx, snap.metadata.confState);
    this.env.checker.observeRestore(this.id, idx, l.sm.digest);
    this.env.history.counters.snapshotsInstalled++;
    this.env.history.record(this.env.now(), `n${this.id}`, `installed snapshot ${idx}:${snap.metadata.term}`);
    l.node.onApplied(idx);
  }

  private applyEntry(l: Live, e: Entry): void {
    l.sm.apply(e);
    this.env.checker.observeApply(this.id, e.index, fingerprint(e), l.sm.digest);
    this.env.history.counters.entriesApplied++;
    if (e.type !== 1) return;
    const cc = decodeConfChange(e.data);
    l.sm.confState = l.node.applyConfChange(cc);
    this.env.history.record(this.env.now(), `n${this.id}`,
      `applied conf change at ${e.index}: ${fmtCc(cc)} -> ${fmtCs(l.sm.confState)}`);
    this.env.confApplied(this.id, e.index, cc, l.sm.confState);
  }

  private maybeCompact(l: Live): void {
    const snapIndex = this.storage.snapshot().metadata.index;
    if (l.sm.applied - snapIndex < this.tuning.snapshotEveryEntries) return;
    assert.ok(l.sm.applied <= this.storage.lastIndex(), 'applied beyond the stable log');
    this.storage.createSnapshot(l.sm.applied, l.sm.confState, l.sm.snapshotData());
    const compactTo = l.sm.applied - this.tuning.compactKeepEntries;
    if (compactTo >= this.storage.firstIndex()) {
      this.storage.compact(compactTo);
      l.mirror.compact(compactTo);
    }
    this.env.history.counters.snapshotsCreated++;
    this.env.history.record(this.env.now(), `n${this.id}`, `snapshot at ${l.sm.applied}, log from ${this.storage.firstIndex()}`);
  }

  private serveReads(l: Live): void {
    const ready = l.readsWaiting.filter((r) => r.index <= l.sm.applied);
    if (ready.length === 0) return;
    l.readsWaiting = l.readsWaiting.filter((r) => r.index > l.sm.applied);
    this.env.history.counters.readsAnswered += ready.length;
  }

  private observeReady(l: Live, rd: Ready): void {
    const c = this.env.checker;
    const who = `n${this.id}`;
    if (rd.snapshot !== undefined) {
      const m = rd.snapshot.metadata;
      c.observeSnapshotPoint(this.id, m.index, m.term);
      for (const o of l.mirror.restore(m.index, m.term)) c.observeOverwrite(this.id, o.index, o.oldTerm, l.hardState.commit);
      this.env.history.record(this.env.now(), who, `got snapshot ${m.index}:${m.term} ${fmtCs(m.confState)}`);
    }
    if (rd.entries.length > 0) this.observeEntries(l, rd.entries);
    if (rd.hardState !== undefined) this.observeHardState(l, rd.hardState);
    for (const e of rd.committedEntries) c.observeCommitted(this.id, e.index, e.term, fingerprint(e));
    if (rd.softState !== undefined && rd.softState.raftState !== l.role) {
      l.role = rd.softState.raftState;
      const term = l.node.status().hardState.term;
      this.env.history.record(this.env.now(), who, `became ${l.role} term=${term} lead=${rd.softState.lead}`);
      if (l.role === 'Leader') {
        c.observeLeader(this.id, term);
        c.checkLeaderCompleteness(this.id, term, (i) => l.mirror.term(i), l.mirror.baseIndex);
        this.env.history.counters.elections++;
      }
    }
    for (const rs of rd.readStates) {
      const ctx = ctxDecoder.decode(rs.requestCtx);
      if (!c.observeReadState(this.id, ctx, rs)) continue;
      assert.ok(l.readsWaiting.length < READS_WAITING_MAX, 'too many reads waiting for apply');
      l.readsWaiting.push({ index: rs.index, ctx });
    }
  }

  private observeEntries(l: Live, entries: Entry[]): void {
    const c = this.env.checker;
    for (const o of l.mirror.append(entries)) c.observeOverwrite(this.id, o.index, o.oldTerm, l.hardState.commit);
    for (const e of entries) {
      const prevTerm = l.mirror.term(e.index - 1);
      assert.ok(prevTerm !== undefined, `no term before ${e.index}`);
      c.observeLogEntry(this.id, e.index, e.term, fingerprint(e), prevTerm);
    }
  }

  private observeHardState(l: Live, hs: HardState): void {
    const old = l.hardState;
    assert.ok(hs.term >= old.term, `node ${this.id}: term went back ${old.term} -> ${hs.term}`);
    assert.ok(hs.commit >= old.commit, `node ${this.id}: commit went back ${old.commit} -> ${hs.commit}`);
    if (hs.term === old.term && old.vote !== 0n) {
      assert.equal(hs.vote, old.vote, `node ${this.id}: changed its vote within term ${hs.term}`);
    }
    assert.ok(hs.commit <= l.mirror.lastIndex(), `node ${this.id}: commit ${hs.commit} beyond its log ${l.mirror.lastIndex()}`);
    for (let i = Math.max(old.commit, l.mirror.baseIndex) + 1; i <= hs.commit; i++) {
      const e = l.mirror.entryAt(i);
      assert.ok(e !== undefined);
      this.env.checker.observeCommitted(this.id, i, e.term, fingerprint(e));
    }
    l.hardState = { ...hs };
  }

  /** After a restart: the stable log up to the stable commit must be the committed history. */
  private checkStableCommitted(commit: number): void {
    const l = this.live;
    assert.ok(l !== undefined);
    for (let i = l.mirror.baseIndex + 1; i <= commit; i++) {
      const e = l.mirror.entryAt(i);
      assert.ok(e !== undefined, `node ${this.id}: stable commit ${commit} beyond its stable log`);
      this.env.checker.observeCommitted(this.id, i, e.term, fingerprint(e));
    }
  }

  private stableTerm(index: number): number | undefined {
    if (index > this.storage.lastIndex() || index < this.storage.firstIndex() - 1) return undefined;
    return this.storage.term(index);
  }

  private mirrorFromStorage(): MirrorLog {
    const m = new MirrorLog();
    const snap = this.storage.snapshot().metadata;
    const first = this.storage.firstIndex();
    const base = first - 1;
    m.restore(base, base === snap.index ? snap.term : this.storage.term(base));
    const last = this.storage.lastIndex();
    if (last >= first) m.append(this.storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER));
    return m;
  }

  /** Drops reads waiting on a node that is gone, for accounting. */
  readsPending(): number {
    return this.live?.readsWaiting.length ?? 0;
  }
}

export function fmtHs(hs: HardState): string {
  return `{term ${hs.term} vote ${hs.vote} commit ${hs.commit}}`;
}

export function fmtCs(cs: ConfState): string {
  return `{voters ${cs.voters.join(',')} learners ${cs.learners.join(',')}}`;
}

const CC_NAMES = ['AddNode', 'RemoveNode', 'UpdateNode', 'AddLearnerNode'];
export function fmtCc(cc: ConfChange): string {
  return `${CC_NAMES[cc.type] ?? cc.type} ${cc.nodeId}`;
}
