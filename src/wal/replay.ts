// Log reconstruction: folds the records of all segments, in file order, into what raft needs at
// restart (the latest snapshot marker, the latest hard state, and the entries after the
// snapshot). Pure and deterministic; no I/O.
//
// Later records win. An entry at an index <= the last one replaces it and everything after it
// (raft's conflict resolution). Worked example, records in order:
//   e1 e2 e3 e4 | e3' e4' e5' | snap(4) | e6'
//   after e4:   [1 2 3 4]
//   after e3':  [1 2 3']          (e3 and e4 are dropped)
//   after e5':  [1 2 3' 4' 5']
//   snap(4):    [5']              (snapshot term matches e4's: its suffix stays)
//   after e6':  [5' 6']           -> entries 5'..6', snapshot at 4
// A snapshot whose (index, term) is not in the log (a follower that was sent one) discards the
// whole log: the leader sends entries from index+1. A run that starts after the snapshot index
// is kept as it is.
//
// Segments released by releaseTo leave runs of entries that start above the snapshot held in the
// first remaining segment's header; a run that starts after a gap simply restarts the list, and
// `finish()` checks that what is left starts right after the final snapshot.
import assert from 'node:assert/strict';
import type { Entry, HardState, SnapshotMetadata } from '../raft/types.js';
import { WalCorruptError } from './errors.js';
import { RecordType, assertNever, type WalRecord } from './record.js';

export interface RecoveredLog {
  snapshot?: SnapshotMetadata;
  hardState: HardState;
  /** Contiguous, starting at (snapshot?.index ?? 0) + 1. */
  entries: Entry[];
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: 0n, commit: 0 });

export class LogReplayer {
  /** Contiguous run of entries (entries[i].index === entries[0].index + i). */
  private entries: Entry[] = [];
  private hardState: HardState = { ...EMPTY_HARD_STATE };
  /** Latest snapshot marker seen; markers at a lower or equal index are repeats (segment headers). */
  private snapshot: SnapshotMetadata | undefined;

  push(r: WalRecord): void {
    switch (r.type) {
      case RecordType.Metadata: break;
      case RecordType.Entry: this.pushEntry(r.entry); break;
      case RecordType.HardState: this.hardState = r.hardState; break;
      case RecordType.Snapshot: this.pushSnapshot(r.snapshot); break;
      default: assertNever(r);
    }
  }

  private pushEntry(e: Entry): void {
    const first = this.entries[0];
    if (first === undefined || e.index < first.index) {
      this.entries = [e];
      return;
    }
    const nextIndex = first.index + this.entries.length;
    // A gap: a released segment's run; the next snapshot marker or finish() sorts it out.
    if (e.index > nextIndex) this.entries = [e];
    else {
      if (e.index < nextIndex) this.entries.length = e.index - first.index; // an overwrite drops e.index..
      this.entries.push(e);
    }
    assert.equal(this.entries.at(-1), e);
  }

  private pushSnapshot(s: SnapshotMetadata): void {
    if (this.snapshot !== undefined && s.index <= this.snapshot.index) return;
    this.snapshot = s;
    const first = this.entries[0];
    // A run that starts after the snapshot stays (its term cannot be checked; finish() checks the gap).
    if (first === undefined || s.index < first.index) return;
    const at = this.entries[s.index - first.index];
    this.entries = at !== undefined && at.term === s.term ? this.entries.slice(s.index - first.index + 1) : [];
    assert.ok(this.entries.length === 0 || this.entries[0]!.index === s.index + 1);
  }

  finish(): RecoveredLog {
    const base = this.snapshot?.index ?? 0;
    let entries = this.entries;
    const first = entries[0];
    if (first !== undefined && first.index <= base) entries = entries.slice(base - first.index + 1);
    const head = entries[0];
    if (head !== undefined && head.index !== base + 1) {
      throw new WalCorruptError('', -1, `entries ${base + 1}..${head.index - 1} are missing (log resumes at ${head.index} after ${this.snapshot === undefined ? 'no snapshot' : `the snapshot at ${base}`})`);
    }
    const out: RecoveredLog = { hardState: this.hardState, entries };
    if (this.snapshot !== undefined) out.snapshot = this.snapshot;
    return out;
  }
}
