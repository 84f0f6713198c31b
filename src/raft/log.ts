// RaftLog: the node's view of its log = stable storage (what the host has made durable) followed
// by the unstable tail (entries and maybe a snapshot handed out in ready() or not yet handed out,
// whose write the host has not yet reported with onPersisted).
//
//   storage:   [dummy@4] 5 6 7 8            (durable)
//   unstable:                   8' 9 10     offset = 8, offsetInProgress = 10
//                                           (8' and 9 handed out to the host, 10 not yet)
//   term(8) reads the unstable 8' (it will overwrite the stored 8 when its write lands).
//
// Indexes (invariants, asserted where they move):
//   applied <= applying <= committed <= lastIndex()
//   applying < unstable.offset when entries are handed out for apply: only persisted entries are
//   ever applied (the pipelined protocol in types.ts), so a crash never applies what it may lose.

import assert from 'node:assert/strict';
import { limitSize } from './storage.js';
import { RaftError } from './types.js';
import type { Entry, Snapshot, Storage } from './types.js';

/** The not-yet-durable tail of the log. */
class Unstable {
  /** A snapshot received from the leader, not yet reported persisted. */
  snapshot: Snapshot | undefined;
  /** Handed out to the host in a ready(). */
  snapshotInProgress = false;
  entries: Entry[] = [];
  /** Index of entries[0] (or the next index when empty). */
  offset: number;
  /** entries before this index were handed out in a ready() (offset <= offsetInProgress <= end). */
  offsetInProgress: number;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  end(): number {
    return this.offset + this.entries.length;
  }

  term(i: number): number | undefined {
    if (i >= this.offset && i < this.end()) return this.entries[i - this.offset]!.term;
    if (this.snapshot && i === this.snapshot.metadata.index) return this.snapshot.metadata.term;
    return undefined;
  }

  truncateAndAppend(ents: Entry[]): void {
    const from = ents[0]!.index;
    if (from === this.end()) {
      for (const e of ents) this.entries.push(e);
    } else if (from <= this.offset) {
      // Replaces the whole unstable tail (and, once written, part of storage).
      this.entries = [...ents];
      this.offset = from;
      this.offsetInProgress = from;
    } else {
      this.entries = this.entries.slice(0, from - this.offset).concat(ents);
      this.offsetInProgress = Math.min(this.offsetInProgress, from);
    }
    assert.ok(this.offsetInProgress >= this.offset && this.offsetInProgress <= this.end());
  }
}

export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  /** Highest index handed out for apply (in committedEntries or as a snapshot). */
  applying: number;
  /** Highest index the host reported applied. */
  applied: number;

  constructor(readonly storage: Storage, private readonly maxApplyBytes: number) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applying = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    const s = this.unstable.snapshot;
    return s ? s.metadata.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    const u = this.unstable;
    if (u.entries.length > 0) return u.end() - 1;
    if (u.snapshot) return u.snapshot.metadata.index;
    return this.storage.lastIndex();
  }

  /**
   * Last index known durable (the host reported it, or it was in storage at start). While a
   * snapshot from the leader is not yet reported persisted, nothing from its index on is durable:
   * restore() already moved unstable.offset past it, but a crash now would bring back the old
   * log, so an ack of the snapshot must wait for its write (afterPersist).
   */
  stableLastIndex(): number {
    const u = this.unstable;
    if (u.snapshot === undefined) return u.offset - 1;
    const snapIndex = u.snapshot.metadata.index;
    const durable = Math.min(this.storage.lastIndex(), snapIndex - 1);
    assert.ok(durable < u.offset - 1, 'a pending snapshot is never counted durable');
    return durable;
  }

  /** Term of entry i, or undefined when i is compacted or beyond the log. */
  term(i: number): number | undefined {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    const t = this.unstable.term(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (err instanceof RaftError && (err.code === 'Compacted' || err.code === 'Unavailable')) return undefined;
      throw err;
    }
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert.ok(t !== undefined, 'the last entry always has a term');
    return t;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the first entry of `ents` that conflicts with (or is missing from) our log; 0 if none. */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The last index <= `index` whose term is <= `term` (with that term): where a leader whose log
   * has `term` at `index` can next probe. Used for fast backtracking on both sides.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i >= 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /** A follower's append (MsgApp); returns the last new index, or undefined when prev does not match. */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert.ok(ci > this.committed, `entry ${ci} conflicts with committed entry (commit ${this.committed})`);
      this.append(ents.slice(ci - prevIndex - 1));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const from = ents[0]!.index;
    assert.ok(from - 1 >= this.committed, `append at ${from} would overwrite committed ${this.committed}`);
    assert.ok(from <= this.lastIndex() + 1, `append at ${from} leaves a gap after ${this.lastIndex()}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(toCommit: number): void {
    if (toCommit <= this.committed) return;
    assert.ok(toCommit <= this.lastIndex(), `commit ${toCommit} beyond last index ${this.lastIndex()}`);
    this.committed = toCommit;
  }

  /** Entries [lo, hi) from storage and/or unstable, at most maxBytes (at least one). Throws Compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    assert.ok(lo <= hi && hi <= this.lastIndex() + 1, `slice(${lo}, ${hi}) out of [.., ${this.lastIndex() + 1}]`);
    if (lo < this.firstIndex()) throw new RaftError('Compacted');
    if (lo === hi) return [];
    const u = this.unstable;
    let out: Entry[] = [];
    if (lo < u.offset) {
      out = this.storage.entries(lo, Math.min(hi, u.offset), maxBytes);
      if (out.length < Math.min(hi, u.offset) - lo) return out; // size limit reached in storage
    }
    if (hi > u.offset) {
      const from = Math.max(lo, u.offset);
      const tail = u.entries.slice(from - u.offset, hi - u.offset);
      out = out.length === 0 ? tail : out.concat(tail);
    }
    return limitSize(out, maxBytes);
  }

  /** Entries from i to the end, at most maxBytes. Throws Compacted. */
  entriesFrom(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  // ---- hand-out bookkeeping (RawNode.ready / onPersisted / onApplied) ----

  nextUnstableEntries(): Entry[] {
    const u = this.unstable;
    return u.offsetInProgress < u.end() ? u.entries.slice(u.offsetInProgress - u.offset) : [];
  }

  nextUnstableSnapshot(): Snapshot | undefined {
    const u = this.unstable;
    return u.snapshot && !u.snapshotInProgress ? u.snapshot : undefined;
  }

  /** Marks everything unstable as handed out. */
  acceptUnstable(): void {
    const u = this.unstable;
    u.offsetInProgress = u.end();
    if (u.snapshot) u.snapshotInProgress = true;
  }

  /** True when some unstable state was handed out and not yet reported persisted. */
  hasWriteInFlight(): boolean {
    const u = this.unstable;
    return u.offsetInProgress > u.offset || u.snapshotInProgress;
  }

  /** The host reports everything up to (index, term) durable. Stale reports are ignored. */
  stableTo(index: number, term: number): void {
    const u = this.unstable;
    if (index < u.offset || index >= u.end() || u.term(index) !== term) return;
    assert.ok(index < u.offsetInProgress, `persisted ${index} was never handed out`);
    u.entries = u.entries.slice(index + 1 - u.offset);
    u.offset = index + 1;
  }

  stableSnapTo(index: number): void {
    const u = this.unstable;
    if (u.snapshot && u.snapshot.metadata.index === index) {
      u.snapshot = undefined;
      u.snapshotInProgress = false;
    }
  }

  /** The highest index that may be handed out for apply: committed and durable. */
  private applyLimit(): number {
    if (this.unstable.snapshot) return this.applying; // the snapshot goes first
    return Math.min(this.committed, this.stableLastIndex());
  }

  hasNextCommittedEntries(): boolean {
    return this.applying < this.applyLimit();
  }

  nextCommittedEntries(): Entry[] {
    const hi = this.applyLimit();
    if (this.applying >= hi) return [];
    const ents = this.slice(this.applying + 1, hi + 1, this.maxApplyBytes);
    assert.equal(ents[0]!.index, this.applying + 1, 'committed entries are contiguous with the previous');
    return ents;
  }

  applyingTo(i: number): void {
    assert.ok(i >= this.applying && i <= this.committed, `applying ${i} outside [${this.applying}, ${this.committed}]`);
    this.applying = i;
  }

  appliedTo(i: number): void {
    assert.ok(i >= this.applied && i <= this.applying, `applied ${i} outside [${this.applied}, ${this.applying}]`);
    this.applied = i;
  }

  /** Installs a snapshot received from the leader (its log does not contain the snapshot point). */
  restore(snap: Snapshot): void {
    const idx = snap.metadata.index;
    assert.ok(idx > this.committed, 'restore only a snapshot past the commit index');
    this.committed = idx;
    const u = this.unstable;
    u.snapshot = snap;
    u.snapshotInProgress = false;
    u.entries = [];
    u.offset = idx + 1;
    u.offsetInProgress = idx + 1;
  }
}
