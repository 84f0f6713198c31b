// The matching index of the watch hub: which watchers want an event on key k? Asked once per
// event of every applied revision, so its cost must not grow with the number of watchers that do
// NOT match (etcd's watcherGroup: a key map plus an interval tree).
//
// - Single-key watchers sit in a Map from key to the set of them: one lookup per event.
// - Range watchers (ranges, prefixes, "every key >= k", all keys) are grouped by identical range
//   (thousands of watchers on one prefix are one node) and the distinct ranges live in a treap
//   ordered by (start, end) whose nodes also hold the largest end in their subtree. A stabbing
//   query for k visits only subtrees whose largest end is > k and whose start can be <= k:
//   O(log R + M) expected for R distinct ranges and M matches.
//
// Keys are latin1 strings (mvcc's keyString), so JS string order is byte order. An open end
// ("every key >= k", etcd's range_end "\0") is OPEN_END, which sorts after every key string.
//
// Worked example: ranges [a,c) [b,\uffff) [x,y) -> treap keyed by start; query "bz": the node
// [x,y) has start > "bz" so its right side is skipped; [a,c) and [b,open) contain "bz".

import assert from 'node:assert/strict';

/** The end of a range with no end: sorts after every latin1 key string. */
export const OPEN_END = '\uffff';

interface RangeNode<T> {
  readonly start: string;
  readonly end: string;
  readonly items: Set<T>;
  /** Heap priority (deterministic pseudo-random): parent.priority >= child.priority. */
  readonly priority: number;
  left: RangeNode<T> | undefined;
  right: RangeNode<T> | undefined;
  /** max(end) over this subtree: the pruning bound of the stabbing query. */
  maxEnd: string;
}

function compareRange(aStart: string, aEnd: string, bStart: string, bEnd: string): number {
  if (aStart !== bStart) return aStart < bStart ? -1 : 1;
  if (aEnd !== bEnd) return aEnd < bEnd ? -1 : 1;
  return 0;
}

function update<T>(n: RangeNode<T>): RangeNode<T> {
  let m = n.end;
  if (n.left !== undefined && n.left.maxEnd > m) m = n.left.maxEnd;
  if (n.right !== undefined && n.right.maxEnd > m) m = n.right.maxEnd;
  n.maxEnd = m;
  return n;
}

/** Splits into nodes < (start, end) and nodes >= (start, end). */
function split<T>(n: RangeNode<T> | undefined, start: string, end: string): [RangeNode<T> | undefined, RangeNode<T> | undefined] {
  if (n === undefined) return [undefined, undefined];
  if (compareRange(n.start, n.end, start, end) < 0) {
    const [l, r] = split(n.right, start, end);
    n.right = l;
    return [update(n), r];
  }
  const [l, r] = split(n.left, start, end);
  n.left = r;
  return [l, update(n)];
}

/** Joins two treaps where every node of `a` sorts before every node of `b`. */
function merge<T>(a: RangeNode<T> | undefined, b: RangeNode<T> | undefined): RangeNode<T> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.priority >= b.priority) {
    a.right = merge(a.right, b);
    return update(a);
  }
  b.left = merge(a, b.left);
  return update(b);
}

/** Removes the smallest node of a non-empty treap. */
function removeMin<T>(n: RangeNode<T>): RangeNode<T> | undefined {
  if (n.left === undefined) return n.right;
  n.left = removeMin(n.left);
  return update(n);
}

export class RangeIndex<T> {
  /** Single-key watchers by key; a set is never empty. */
  private readonly single = new Map<string, Set<T>>();
  /** Distinct ranges by `rangeId`; each is exactly one treap node, its set never empty. */
  private readonly ranges = new Map<string, RangeNode<T>>();
  private root: RangeNode<T> | undefined = undefined;
  private itemCount = 0;
  /** xorshift state for node priorities: deterministic, so runs are reproducible. */
  private seed = 0x2545f491;

  /** Items in the index. */
  get size(): number { return this.itemCount; }
  /** Distinct single keys + distinct ranges (the index's own memory, for leak checks). */
  get nodeCount(): number { return this.single.size + this.ranges.size; }

  /** Adds `item` for key (end undefined) or for [key, end) (end OPEN_END: no end). */
  add(key: string, end: string | undefined, item: T): void {
    if (end === undefined) {
      const set = this.single.get(key) ?? new Set<T>();
      assert.ok(!set.has(item), 'item indexed twice');
      set.add(item);
      this.single.set(key, set);
    } else {
      const id = rangeId(key, end);
      let node = this.ranges.get(id);
      if (node === undefined) {
        node = { start: key, end, items: new Set(), priority: this.nextPriority(), left: undefined, right: undefined, maxEnd: end };
        this.ranges.set(id, node);
        const [l, r] = split(this.root, key, end);
        this.root = merge(merge(l, node), r);
      }
      assert.ok(!node.items.has(item), 'item indexed twice');
      node.items.add(item);
    }
    this.itemCount++;
  }

  /** Removes an item added with the same key and end; returns whether it was there. */
  remove(key: string, end: string | undefined, item: T): boolean {
    if (end === undefined) {
      const set = this.single.get(key);
      if (set === undefined || !set.delete(item)) return false;
      if (set.size === 0) this.single.delete(key);
    } else {
      const id = rangeId(key, end);
      const node = this.ranges.get(id);
      if (node === undefined || !node.items.delete(item)) return false;
      if (node.items.size === 0) {
        this.ranges.delete(id);
        const [l, r] = split(this.root, key, end);
        assert.ok(r !== undefined, 'an indexed range is in the treap');
        this.root = merge(l, removeMin(r));
      }
    }
    this.itemCount--;
    assert.ok(this.itemCount >= 0);
    return true;
  }

  /** Calls `visit` once for every item whose key or range contains `key`. */
  match(key: string, visit: (item: T) => void): void {
    const set = this.single.get(key);
    if (set !== undefined) for (const item of set) visit(item);
    if (this.root !== undefined) stab(this.root, key, visit);
  }

  private nextPriority(): number {
    let x = this.seed;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.seed = x;
    return x;
  }
}

function stab<T>(n: RangeNode<T>, key: string, visit: (item: T) => void): void {
  if (n.maxEnd <= key) return; // no range below ends after key
  if (n.left !== undefined) stab(n.left, key, visit);
  if (n.start > key) return; // this node and everything right of it start after key
  if (key < n.end) for (const item of n.items) visit(item);
  if (n.right !== undefined) stab(n.right, key, visit);
}

/** A collision-free id for a (start, end) pair (keys may hold any byte, so length-prefix). */
function rangeId(start: string, end: string): string {
  return `${start.length}:${start}${end}`;
}
