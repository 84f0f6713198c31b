// keyIndex and generations: etcd's worked example (put 1, 2, delete 3, put 4, 5, delete 6,
// put 7, 8), lookups at every revision, compaction at every revision, and restore.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyIndex } from '../../src/mvcc/key-index.js';

function example(): KeyIndex {
  const ki = new KeyIndex(new Uint8Array([102, 111, 111]));
  ki.put(1, 0); ki.put(2, 0); ki.tombstone(3, 0);
  ki.put(4, 0); ki.put(5, 0); ki.tombstone(6, 0);
  ki.put(7, 0); ki.put(8, 0);
  return ki;
}

const revs = (ki: KeyIndex): number[][] => ki.generations.map((g) => g.revs.map((r) => r.main));

describe('keyIndex', () => {
  it('builds generations from puts and tombstones', () => {
    assert.deepEqual(revs(example()), [[1, 2, 3], [4, 5, 6], [7, 8]]);
    const ki = example();
    ki.tombstone(9, 0);
    assert.deepEqual(revs(ki), [[1, 2, 3], [4, 5, 6], [7, 8, 9], []]);
    assert.throws(() => ki.tombstone(10, 0), /tombstone of a deleted key/);
    assert.throws(() => ki.put(9, 0), /not after/);
  });

  it('get finds the revision, create revision and version alive at a revision', () => {
    const ki = example();
    const at = (rev: number): [number, number, number] | undefined => {
      const r = ki.get(rev);
      return r && [r.modified.main, r.created.main, r.ver];
    };
    assert.equal(at(0), undefined);
    assert.deepEqual(at(1), [1, 1, 1]);
    assert.deepEqual(at(2), [2, 1, 2]);
    assert.equal(at(3), undefined); // deleted
    assert.deepEqual(at(4), [4, 4, 1]);
    assert.deepEqual(at(5), [5, 4, 2]);
    assert.equal(at(6), undefined);
    assert.deepEqual(at(7), [7, 7, 1]);
    assert.deepEqual(at(8), [8, 7, 2]);
    assert.deepEqual(at(100), [8, 7, 2]);
  });

  it('compact keeps the latest revision <= the compact point unless it is a tombstone', () => {
    const cases: Array<[number, number[][], string[]]> = [
      [1, [[1, 2, 3], [4, 5, 6], [7, 8]], ['1.0']],
      [2, [[2, 3], [4, 5, 6], [7, 8]], ['2.0']],
      [3, [[4, 5, 6], [7, 8]], []],
      [4, [[4, 5, 6], [7, 8]], ['4.0']],
      [5, [[5, 6], [7, 8]], ['5.0']],
      [6, [[7, 8]], []],
      [7, [[7, 8]], ['7.0']],
      [8, [[8]], ['8.0']],
      [20, [[8]], ['8.0']],
    ];
    for (const [rev, want, kept] of cases) {
      const ki = example();
      const keep = new Set<string>();
      ki.compact(rev, keep);
      assert.deepEqual(revs(ki), want, `compact(${rev})`);
      assert.deepEqual([...keep], kept, `keep after compact(${rev})`);
      // What survives still answers reads at and after the compact point as before.
      for (let r = rev; r <= 9; r++) assert.deepEqual(ki.get(r), example().get(r), `get(${r}) after compact(${rev})`);
    }
  });

  it('a key deleted before the compact point is emptied', () => {
    const ki = new KeyIndex(new Uint8Array([1]));
    ki.put(2, 0); ki.put(3, 1); ki.tombstone(4, 0);
    const keep = new Set<string>();
    ki.compact(5, keep);
    assert.ok(ki.isEmpty());
    assert.equal(keep.size, 0);
  });

  it('version counts survive compaction and restore', () => {
    const ki = new KeyIndex(new Uint8Array([1]));
    ki.restore({ main: 3, sub: 0 }, { main: 9, sub: 2 }, 5);
    ki.put(10, 0);
    assert.deepEqual(ki.get(9), { modified: { main: 9, sub: 2 }, created: { main: 3, sub: 0 }, ver: 5 });
    assert.deepEqual(ki.get(10)?.ver, 6);
    assert.equal(ki.get(8), undefined);
    assert.throws(() => ki.restore({ main: 1, sub: 0 }, { main: 11, sub: 0 }, 1), /non-empty generation/);
  });
});
