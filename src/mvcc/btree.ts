// The B+tree both the treeIndex and the MemoryBackend sort with. sorted-btree is CommonJS with
// `export default class`: under NodeNext a default import is the whole CommonJS module, so the
// class is its `.default` (at runtime and for the type checker alike).
import sortedBtree from 'sorted-btree';

export const BTree = sortedBtree.default;
export type BTree<K, V> = InstanceType<typeof sortedBtree.default<K, V>>;

/** JavaScript string order: for latin1 strings of bytes, exactly unsigned byte order. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
