// treeIndex: the ordered map from key to keyIndex (etcd's btree index), held in memory and
// rebuilt from the backend on open. Keys are indexed as latin1 strings of their bytes: one char
// per byte, code units 0..255, so JavaScript's string order is exactly the byte order etcd
// ranges use, and `Map`-speed string compares replace byte-array compares.
//
// Range bounds follow etcd once the request's range_end is normalized (see `normalizeRangeEnd`):
// `end === undefined` is the single key, `end === ''` is every key >= key, otherwise [key, end).
import assert from 'node:assert/strict';
import { BTree, compareStrings } from './btree.js';
import { KeyIndex } from './key-index.js';


/** Keys up to this long convert with String.fromCharCode (2x faster than Buffer for short keys). */
const KEY_STRING_SHORT_BYTES_MAX = 1024;

export function keyString(key: Uint8Array): string {
  if (key.length <= KEY_STRING_SHORT_BYTES_MAX) return String.fromCharCode.apply(null, key as unknown as number[]);
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export function keyBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

/**
 * etcd's range_end rules as a string bound: absent or empty -> undefined (the single key);
 * "\0" -> '' (every key >= key); otherwise the end itself.
 */
export function normalizeRangeEnd(rangeEnd: Uint8Array | undefined): string | undefined {
  if (rangeEnd === undefined || rangeEnd.length === 0) return undefined;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return '';
  return keyString(rangeEnd);
}

export class TreeIndex {
  private readonly tree: BTree<string, KeyIndex> = new BTree<string, KeyIndex>(undefined, compareStrings);

  get size(): number {
    return this.tree.size;
  }

  get(key: string): KeyIndex | undefined {
    return this.tree.get(key);
  }

  /** The keyIndex of `key`, created empty if absent. */
  getOrCreate(key: string, keyRaw: Uint8Array): KeyIndex {
    let ki = this.tree.get(key);
    if (ki === undefined) {
      ki = new KeyIndex(keyRaw);
      this.tree.set(key, ki);
    }
    return ki;
  }

  delete(key: string): void {
    const removed = this.tree.delete(key);
    assert.ok(removed, 'delete of a key the index does not hold');
  }

  /** Calls `visit` for every indexed key in the range, in key order. */
  visit(key: string, end: string | undefined, visit: (k: string, ki: KeyIndex) => void): void {
    if (end === undefined) {
      const ki = this.tree.get(key);
      if (ki !== undefined) visit(key, ki);
      return;
    }
    if (end === '') {
      const max = this.tree.maxKey();
      if (max === undefined || max < key) return;
      this.tree.forRange(key, max, true, (k, ki) => { visit(k, ki); });
      return;
    }
    if (end <= key) return;
    this.tree.forRange(key, end, false, (k, ki) => { visit(k, ki); });
  }

  /** Every keyIndex (compaction walks them all, as etcd's does). */
  forEach(visit: (k: string, ki: KeyIndex) => void): void {
    this.tree.forEach((ki, k) => { visit(k, ki); });
  }
}
