// Progress tracking on the leader: one Progress per peer (and itself), the bounded window of
// in-flight MsgApps, and the tracker that knows the configuration and computes quorums.
//
// States of a follower's Progress (etcd's tracker/progress.go):
//   Probe      we do not know where its log matches ours; send one MsgApp per heartbeat or
//              response (probeSent pauses it) and back off on rejection
//   Replicate  its log matches up to `match`; stream MsgApps optimistically (`next` runs ahead of
//              `match`), at most maxInflightMsgs unacknowledged
//   Snapshot   it needs a snapshot (entries it needs are compacted); send nothing until
//              reportSnapshot() or an ack past the snapshot
//
// Invariant: 0 <= match < next. The leader's own match only advances when its write is persisted.

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
  /** In Probe state: a MsgApp was sent and we wait for its answer (or a heartbeat response). */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflightMsgs: number, public isLearner: boolean) {
    assert.ok(next >= 1, 'progress next starts at 1 or more');
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
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
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    assert.ok(this.next > this.match);
    return updated;
  }

  /** A MsgApp with entries up to `last` was sent in Replicate state. */
  optimisticUpdate(last: number): void {
    this.next = last + 1;
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
    this.probeSent = false;
    assert.ok(this.next > this.match);
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'Probe': return this.probeSent;
      case 'Replicate': return this.inflights.full();
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
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)!.match);
    matches.sort((a, b) => b - a);
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
