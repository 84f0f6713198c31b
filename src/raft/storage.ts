// MemoryStorage: the stable raft log held in memory, like etcd's raft.MemoryStorage. It is what
// the host has made durable: the host appends to it when a write completes (BEFORE it calls
// RawNode.onPersisted), and rebuilds it from its WAL on restart. The core only reads it.
//
// Layout: `ents[0]` is a dummy entry standing for the snapshot point (its index and term are the
// snapshot's); real entries follow contiguously. Worked example, after snapshot at 5 (term 2) and
// appends of 6..8:
//   ents = [ {5,t2,dummy}, {6}, {7}, {8} ]   firstIndex() = 6, lastIndex() = 8, term(5) = 2
//   compact(7) -> ents = [ {7,dummy}, {8} ] firstIndex() = 8; entries(6, ..) throws Compacted
//
// A brand-new cluster is bootstrapped by RawNode.bootstrap(), which installs a snapshot at index
// 1 (term 1) carrying the initial ConfState (see rawnode.ts).

import assert from 'node:assert/strict';
import { RaftError } from './types.js';
import type { ConfState, Entry, HardState, Snapshot, Storage } from './types.js';

export const EMPTY_SNAPSHOT_DATA = new Uint8Array(0);

/** Bytes an entry counts for in size limits (payload plus a small fixed overhead like protobuf). */
export function entrySizeBytes(e: Entry): number {
  return e.data.byteLength + 16;
}

/** The longest prefix of `ents` within maxBytes, always at least one entry. */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length <= 1) return ents;
  let size = entrySizeBytes(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySizeBytes(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0n, commit: 0 };
  private snap: Snapshot = {
    metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
    data: EMPTY_SNAPSHOT_DATA,
  };
  /** ents[0] is the dummy at the snapshot point; ents[i].index === ents[0].index + i. */
  private ents: Entry[] = [{ term: 0, index: 0, type: 0, data: EMPTY_SNAPSHOT_DATA }];

  initialState(): { hardState: HardState; confState: ConfState } {
    const cs = this.snap.metadata.confState;
    return { hardState: { ...this.hardState }, confState: { voters: [...cs.voters], learners: [...cs.learners] } };
  }

  private get offset(): number {
    return this.ents[0]!.index;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  term(index: number): number {
    if (index < this.offset) throw new RaftError('Compacted');
    if (index > this.lastIndex()) throw new RaftError('Unavailable');
    const e = this.ents[index - this.offset]!;
    assert.equal(e.index, index, 'memory storage entries are contiguous');
    return e.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.offset) throw new RaftError('Compacted');
    assert.ok(lo <= hi, `entries(${lo}, ${hi}): lo > hi`);
    if (hi > this.lastIndex() + 1) throw new RaftError('Unavailable', `raft: entries(${lo}, ${hi}) beyond last index ${this.lastIndex()}`);
    if (lo === hi) return [];
    return limitSize(this.ents.slice(lo - this.offset, hi - this.offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  setHardState(hs: HardState): void {
    assert.ok(hs.term >= this.hardState.term, `hard state term went back ${this.hardState.term} -> ${hs.term}`);
    this.hardState = { ...hs };
  }

  /**
   * Appends entries; an entry at an index that already exists replaces it and all after it.
   * Entries at or below the snapshot point are ignored (already compacted).
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    const ents = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const at = ents[0]!.index - this.offset;
    assert.ok(at <= this.ents.length, `memory storage: gap, appending ${ents[0]!.index} after ${this.lastIndex()}`);
    if (at < this.ents.length) this.ents = this.ents.slice(0, at);
    for (const e of ents) this.ents.push(e);
    assert.equal(this.lastIndex(), last);
  }

  /** Replaces the whole log with a snapshot (a follower catching up, or a restart). */
  applySnapshot(snap: Snapshot): void {
    const cur = this.snap.metadata.index;
    const idx = snap.metadata.index;
    if (idx < cur || (idx === cur && idx > 0)) throw new RaftError('SnapOutOfDate');
    assert.ok(idx === 0 || snap.metadata.term > 0, 'a snapshot past index 0 has a term');
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: idx, type: 0, data: EMPTY_SNAPSHOT_DATA }];
    if (this.hardState.commit < idx) this.hardState = { ...this.hardState, commit: idx };
  }

  /**
   * Records a snapshot of the applied state at `index` (<= lastIndex); does not compact. Applied
   * implies committed, so the stored commit rises to `index` if it lagged (as in applySnapshot):
   * under pipelined writes the hard state carrying that commit may still be in flight.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new RaftError('SnapOutOfDate');
    assert.ok(index <= this.lastIndex(), `createSnapshot(${index}) beyond last index ${this.lastIndex()}`);
    const cs = { voters: [...confState.voters], learners: [...confState.learners] };
    this.snap = { metadata: { index, term: this.term(index), confState: cs }, data };
    if (this.hardState.commit < index) this.hardState = { ...this.hardState, commit: index };
    assert.ok(this.hardState.commit >= this.snap.metadata.index);
    return this.snap;
  }

  /** Drops entries before `index`; `index` becomes the dummy (the log then starts at index+1). */
  compact(index: number): void {
    if (index <= this.offset) throw new RaftError('Compacted');
    assert.ok(index <= this.lastIndex(), `compact(${index}) beyond last index ${this.lastIndex()}`);
    // Compacting past the snapshot would leave a follower needing entries in between with neither.
    assert.ok(index <= this.snap.metadata.index, `compact(${index}) past the snapshot at ${this.snap.metadata.index}`);
    const i = index - this.offset;
    const dummy = this.ents[i]!;
    this.ents = [{ term: dummy.term, index: dummy.index, type: 0, data: EMPTY_SNAPSHOT_DATA }, ...this.ents.slice(i + 1)];
    assert.equal(this.offset, index);
  }
}
