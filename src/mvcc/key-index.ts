// keyIndex: the revisions of one key, grouped in generations, as etcd keeps them. A generation
// is one life of the key: it starts with the put that creates the key and ends with the
// tombstone that deletes it; the last generation is open (possibly empty: the key is deleted).
//
// Worked example (etcd's): key "foo" is put at 1.0, 2.0, deleted at 3.0, put at 4.0, 5.0,
// deleted at 6.0, put at 7.0, 8.0:
//   generations = [ {1.0, 2.0, 3.0(t)}, {4.0, 5.0, 6.0(t)}, {7.0, 8.0} ]
// get(5) finds 5.0 (version 2 of the second life); get(3) and get(6) find nothing (deleted).
// compact(2) keeps {2.0, 3.0(t)}: 2.0 is the latest revision <= 2 and must stay readable.
// compact(4) drops the first generation (its tombstone 3.0 <= 4 ends it) and keeps {4.0, ...}.
// compact(6) leaves {7.0, 8.0} only: 6.0 is a tombstone, and a tombstone is never kept.
// compact(10) keeps {8.0}, the latest revision, which is what reads at revision >= 10 see.
//
// A generation remembers `created` and `ver` (puts in it, the tombstone included) apart from its
// `revs`, because compaction cuts `revs` but the create revision and version of what remains do
// not change. On restart after a compaction the first record of a generation is not its creation,
// so `restore()` starts a generation from the record's own create revision and version.
//
// `live` is not etcd's: it holds the latest KeyValue (value included) while the key exists, so
// that reads at the current revision never touch the backend (see store.ts).
import assert from 'node:assert/strict';
import type { KeyValue } from '../api/types.js';
import { compareRevision, revId, type Revision } from './revision.js';

export interface Generation {
  /** Puts in this generation so far (tombstone included); >= revs.length (compaction cuts revs). */
  ver: number;
  /** The revision that created the key in this life; undefined only while revs is empty. */
  created: Revision | undefined;
  /** Ascending; for a closed generation the last one is the tombstone. */
  revs: Revision[];
}

export interface KeyAt {
  modified: Revision;
  created: Revision;
  ver: number;
}

export class KeyIndex {
  readonly key: Uint8Array;
  /** The latest revision of any change of the key; strictly increases. */
  modified: Revision = { main: 0, sub: 0 };
  /** Never empty; only the last one may be open or empty. */
  generations: Generation[] = [{ ver: 0, created: undefined, revs: [] }];
  /** The latest KeyValue while the key exists (the last generation is not empty), else undefined. */
  live: KeyValue | undefined = undefined;

  constructor(key: Uint8Array) {
    assert.ok(key.length > 0, 'empty key');
    this.key = key;
  }

  private lastGeneration(): Generation {
    const g = this.generations[this.generations.length - 1];
    assert.ok(g !== undefined, 'keyIndex without generations');
    return g;
  }

  put(main: number, sub: number): void {
    const rev = { main, sub };
    assert.ok(compareRevision(rev, this.modified) > 0, `put ${main}.${sub} not after ${this.modified.main}.${this.modified.sub}`);
    const g = this.lastGeneration();
    if (g.revs.length === 0) g.created = rev;
    g.revs.push(rev);
    g.ver++;
    this.modified = rev;
  }

  /** Starts a generation from a record whose earlier revisions were compacted away (restart). */
  restore(created: Revision, modified: Revision, ver: number): void {
    const g = this.lastGeneration();
    assert.equal(g.revs.length, 0, 'restore into a non-empty generation');
    assert.ok(compareRevision(modified, this.modified) > 0 && compareRevision(created, modified) <= 0 && ver >= 1);
    g.created = created;
    g.revs.push(modified);
    g.ver = ver;
    this.modified = modified;
  }

  /** Closes the current generation with a tombstone at main.sub. */
  tombstone(main: number, sub: number): void {
    assert.ok(this.lastGeneration().revs.length > 0, 'tombstone of a deleted key');
    this.put(main, sub);
    this.generations.push({ ver: 0, created: undefined, revs: [] });
    this.live = undefined;
  }

  /** True when the index holds nothing about the key (it can be dropped from the tree). */
  isEmpty(): boolean {
    return this.generations.length === 1 && this.lastGeneration().revs.length === 0;
  }

  /** The generation alive at `atRev`, or undefined if the key did not exist then. */
  private findGeneration(atRev: number): Generation | undefined {
    const last = this.generations.length - 1;
    for (let i = last; i >= 0; i--) {
      const g = this.generations[i]!;
      if (g.revs.length === 0) continue;
      if (i !== last && g.revs[g.revs.length - 1]!.main <= atRev) return undefined; // deleted by then
      if (g.revs[0]!.main <= atRev) return g;
    }
    return undefined;
  }

  /** The key's latest revision at `atRev` with its create revision and version, if it existed. */
  get(atRev: number): KeyAt | undefined {
    const g = this.findGeneration(atRev);
    if (g === undefined) return undefined;
    for (let n = g.revs.length - 1; n >= 0; n--) {
      const rev = g.revs[n]!;
      if (rev.main > atRev) continue;
      assert.ok(g.created !== undefined);
      return { modified: rev, created: g.created, ver: g.ver - (g.revs.length - n - 1) };
    }
    return undefined;
  }

  /**
   * Drops what no read at a revision >= atRev needs, and adds to `keep` the revision (if any)
   * whose record must survive in the backend: the latest one <= atRev unless it is a tombstone.
   */
  compact(atRev: number, keep: Set<string>): void {
    assert.ok(!this.isEmpty(), 'compact of an empty keyIndex');
    let genIdx = 0;
    // The first generation still alive at atRev, or created after it.
    while (genIdx < this.generations.length - 1) {
      const g = this.generations[genIdx]!;
      if (g.revs[g.revs.length - 1]!.main > atRev) break;
      genIdx++;
    }
    const g = this.generations[genIdx]!;
    let revIndex = -1;
    for (let n = g.revs.length - 1; n >= 0; n--) {
      if (g.revs[n]!.main <= atRev) { revIndex = n; break; }
    }
    if (revIndex !== -1) {
      const kept = g.revs[revIndex]!;
      keep.add(revId(kept.main, kept.sub));
      g.revs = g.revs.slice(revIndex);
    }
    // A closed generation cut down to its tombstone is gone entirely.
    if (g.revs.length === 1 && genIdx !== this.generations.length - 1) {
      const tomb = g.revs[0]!;
      keep.delete(revId(tomb.main, tomb.sub));
      genIdx++;
    }
    this.generations = this.generations.slice(genIdx);
    assert.ok(this.generations.length >= 1);
  }
}
