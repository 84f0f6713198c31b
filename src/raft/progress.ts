// Progress tracking on the leader: one Progress per peer (and itself), the bounded window of
// in-flight MsgApps, and the tracker that knows the configuration and computes quorums.
//
// States of a follower's Progress (etcd's tracker/progress.go):
//   Probe      we do not know where its log matches ours; send one MsgApp per heartbeat or
//              response (msgAppFlowPaused pauses it) and back off on rejection
//   Replicate  its log matches up to `match`; stream MsgApps optimistically (`next` runs ahead of
//              `match`), at most maxInflightMsgs unacknowledged
//   Snapshot   it needs a snapshot (entries it needs are compacted); send nothing until
//              reportSnapshot() or an ack past the snapshot
//
// Invariant: 0 <= match < next. The leader's own match only advances when its write is persisted.
//
// Why a full window must not stall for ever (etcd raft v3.6's MsgAppFlowPaused): MsgApps or their
// acks can be lost while the window is full, and then no ack ever frees it. A heartbeat response
// proves the follower is alive, so it clears msgAppFlowPaused and the leader sends ONE MsgApp
// from `next` even though the window is full; it carries NO entries (the window bounds entries in
// flight, and the inflight records stay truthful). The follower either acks it (it holds
// everything up to next-1: match jumps, the window frees) or rejects it (progress drops to Probe
// and backs off from match). Freeing an inflight slot instead would make the window lie about
// what is in flight and ship a fresh batch of entries past a gap the follower cannot fill.

import assert from 'node:assert/strict';
import type { ConfState, NodeId, ProgressStatus } from './types.js';
import { sortIds } from './confchange.js';

export type ProgressState = 'Probe' | 'Replicate' | 'Snapshot';

/** Ring buffer of the last indexes of unacknowledged MsgApps, bounded by `capacity`. */
export class Inflights {
  private readonly buf: number[];
  private start = 0;
  count = 0;

  constructor(readonly capacity: number) {
    assert.ok(Number.isInteger(capacity) && capacity > 0, 'maxInflightMsgs must be a positive integer');
    this.buf = new Array<number>(capacity).fill(0);
  }

  add(lastIndex: number): void {
    assert.ok(!this.full(), 'inflights: add to a full window');
    const prev = this.count > 0 ? this.buf[(this.start + this.count - 1) % this.capacity]! : 0;
    assert.ok(lastIndex >= prev, 'inflights are added in increasing order');
    this.buf[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Frees every in-flight message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && this.buf[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    assert.ok(this.count >= 0 && this.count <= this.capacity);
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'Probe';
  /** In Snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /**
   * Probe: a MsgApp was sent and we wait for its answer (or a heartbeat response). Replicate: the
   * window was full when the last MsgApp left; only a heartbeat response (or an ack) clears it,
   * which allows one empty MsgApp through the full window (see the header).
   */
  msgAppFlowPaused = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflightMsgs: number, public isLearner: boolean) {
    assert.ok(next >= 1, 'progress next starts at 1 or more');
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs);
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, the follower has at least the snapshot: probe right after it.
    const snapNext = this.state === 'Snapshot' ? this.pendingSnapshot + 1 : 0;
    this.resetState('Probe');
    this.next = Math.max(this.match + 1, snapNext);
    assert.ok(this.next > this.match);
  }

  becomeReplicate(): void {
    this.resetState('Replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('Snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** An ack up to n; false when it is stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    assert.ok(this.next > this.match);
    return updated;
  }

  /**
   * A MsgApp carrying `entries` entries (from `next` on) was sent. Replicate: they are in flight,
   * and a full window pauses the flow; Probe: wait for an answer before the next probe.
   */
  sentEntries(entries: number): void {
    assert.ok(this.state !== 'Snapshot', 'no MsgApp is sent to a follower awaiting a snapshot');
    if (this.state === 'Probe') {
      this.msgAppFlowPaused = true;
      return;
    }
    if (entries > 0) {
      this.next += entries;
      this.inflights.add(this.next - 1);
    }
    this.msgAppFlowPaused = this.inflights.full();
  }

  /** A heartbeat response: the follower is alive, let one MsgApp through (see the header). */
  resumeMsgAppFlow(): void {
    this.msgAppFlowPaused = false;
  }

  /** In Replicate state with a full window, only an empty MsgApp may be sent. */
  canSendEntries(): boolean {
    return this.state !== 'Replicate' || !this.inflights.full();
  }

  /**
   * A rejection of the MsgApp whose previous index was `rejected`; `matchHint` is the highest
   * index where the logs may match. False when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'Replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.msgAppFlowPaused = false;
    assert.ok(this.next > this.match);
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'Probe': return this.msgAppFlowPaused;
      case 'Replicate': return this.msgAppFlowPaused;
      case 'Snapshot': return true;
    }
  }

  status(): ProgressStatus {
    return { match: this.match, next: this.next, state: this.state, isLearner: this.isLearner, recentActive: this.recentActive };
  }
}

export type VoteResult = 'Won' | 'Lost' | 'Pending';

/** The configuration (voters, learners), every member's Progress, and the votes of an election. */
export class ProgressTracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  /** Scratch for committed(), reused: it runs on every ack. */
  private readonly matchesScratch: number[] = [];

  constructor(readonly maxInflightMsgs: number) {}

  /** Replaces the configuration; progress of members that stay is kept, new ones start at `next`. */
  setConfig(cs: ConfState, next: number): void {
    this.voters = new Set(cs.voters);
    this.learners = new Set(cs.learners);
    for (const id of [...this.progress.keys()]) {
      if (!this.voters.has(id) && !this.learners.has(id)) this.progress.delete(id);
    }
    for (const id of [...cs.voters, ...cs.learners]) {
      const pr = this.progress.get(id);
      if (pr) {
        pr.isLearner = this.learners.has(id);
        continue;
      }
      const fresh = new Progress(next, this.maxInflightMsgs, this.learners.has(id));
      fresh.recentActive = true; // a new member gets a grace period before check-quorum counts it
      this.progress.set(id, fresh);
    }
    assert.equal(this.progress.size, this.voters.size + this.learners.size, 'a progress per member');
  }

  confState(): ConfState {
    return { voters: sortIds([...this.voters]), learners: sortIds([...this.learners]) };
  }

  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** The highest index replicated on a quorum of voters (by match). */
  committed(): number {
    if (this.voters.size === 0) return Number.MAX_SAFE_INTEGER; // no voters: nothing constrains
    // Insertion sort, descending, into a reused array: a handful of voters, no allocation.
    const matches = this.matchesScratch;
    matches.length = 0;
    for (const id of this.voters) {
      const m = this.progress.get(id)!.match;
      let i = matches.length;
      matches.push(m);
      for (; i > 0 && matches[i - 1]! < m; i--) matches[i] = matches[i - 1]!;
      matches[i] = m;
    }
    const idx = matches[this.quorum() - 1]!;
    assert.ok(idx >= 0);
    return idx;
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = this.quorum();
    const missing = this.voters.size - granted - rejected;
    const result: VoteResult = granted >= q ? 'Won' : granted + missing >= q ? 'Pending' : 'Lost';
    return { granted, rejected, result };
  }

  /** True when a quorum of voters was recently active (counting `self` always). */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive) active++;
    }
    return active >= this.quorum();
  }

  /** True when acks from `acked` form a quorum of voters. */
  hasQuorum(acked: Set<NodeId>): boolean {
    let n = 0;
    for (const id of this.voters) if (acked.has(id)) n++;
    return n >= this.quorum();
  }

  resetVotes(): void {
    this.votes.clear();
  }
}
