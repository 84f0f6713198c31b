// A node's log as its core sees it (stable storage plus the unstable tail), rebuilt by the host
// from what ready() hands out: rd.entries replace the log from their first index on, rd.snapshot
// resets it. The checker needs it to test log matching and leader completeness on entries that are
// not durable yet (a leader's own new entries live only here until its write completes), and to
// spot a node overwriting an entry it should have kept.
//
// Worked example: log base 4 (term 2), entries 5:2 6:2 7:3. Handing out [6:4] keeps 5:2, replaces
// 6:2 with 6:4 and drops 7:3, reporting overwrites (6, term 2) and (7, term 3).

import assert from 'node:assert/strict';
import type { Entry } from '../../src/raft/types.js';

export interface Overwrite {
  index: number;
  oldTerm: number;
}

export class MirrorLog {
  /** Index of the last entry folded into a snapshot (or compacted away); 0 for a fresh log. */
  baseIndex = 0;
  baseTerm = 0;
  // entries[k].index === baseIndex + 1 + k; invariant: terms never decrease along the array.
  private entries: Entry[] = [];

  lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.entries[this.entries.length - 1]?.term ?? this.baseTerm;
  }

  /** Term at `index`, or undefined when it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.baseIndex - 1]?.term;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.baseIndex) return undefined;
    return this.entries[index - this.baseIndex - 1];
  }

  /** Appends (replacing from the first new index on); returns the entries that were replaced. */
  append(batch: readonly Entry[]): Overwrite[] {
    const first = batch[0];
    if (first === undefined) return [];
    assert.ok(first.index > this.baseIndex, `append at ${first.index} at or below the log base ${this.baseIndex}`);
    assert.ok(first.index <= this.lastIndex() + 1, `gap: append at ${first.index} after last ${this.lastIndex()}`);
    for (let k = 1; k < batch.length; k++) {
      assert.equal((batch[k] as Entry).index, first.index + k, 'entries in a ready are not contiguous');
    }
    const overwrites: Overwrite[] = [];
    const keep = first.index - this.baseIndex - 1;
    for (let k = keep; k < this.entries.length; k++) {
      const old = this.entries[k] as Entry;
      const incoming = batch[k - keep];
      if (incoming === undefined || incoming.term !== old.term) {
        overwrites.push({ index: old.index, oldTerm: old.term });
      }
    }
    this.entries = this.entries.slice(0, keep).concat(batch);
    assert.equal(this.lastIndex(), (batch[batch.length - 1] as Entry).index);
    return overwrites;
  }

  /** Resets the log to a snapshot; returns the entries beyond it that were dropped. */
  restore(index: number, term: number): Overwrite[] {
    const dropped: Overwrite[] = this.entries
      .filter((e) => e.index > index)
      .map((e) => ({ index: e.index, oldTerm: e.term }));
    this.baseIndex = index;
    this.baseTerm = term;
    this.entries = [];
    return dropped;
  }

  /** Forgets entries up to `index` (the host compacted its storage there). */
  compact(index: number): void {
    if (index <= this.baseIndex) return;
    assert.ok(index <= this.lastIndex(), `compact ${index} beyond last ${this.lastIndex()}`);
    const term = this.term(index);
    assert.ok(term !== undefined);
    this.entries = this.entries.slice(index - this.baseIndex);
    this.baseIndex = index;
    this.baseTerm = term;
  }
}
