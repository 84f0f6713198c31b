// A binary min-heap of (dueMs, gen, id) entries, and the lease timers built on it (TimerQueue,
// below): the lessor's expiry queue and checkpoint queue.
//
// Why a heap with lazy deletion: with 100,000 leases the question asked every few hundred
// milliseconds is "is anything due?", answered by one peek at the root. Nothing is ever searched
// for or removed from the middle: an entry whose generation is not the one its timer remembers
// (or whose lease is gone) is dead, and is dropped when it reaches the root. Dead entries are
// bounded by `compact()` (an O(n) heapify, paid for by the pushes that made the garbage).
//
// Ordering is total and deterministic: by dueMs, then by gen (a per-queue counter, unique per
// entry), so two lessors fed the same calls pop the same entries in the same order.
//
// Counters (`pushes`, `pops`, `siftSteps`) exist so tests can prove the absence of scans.

import assert from 'node:assert/strict';

export interface HeapEntry {
  readonly dueMs: number;
  /** Unique per entry within one heap's owner; the lease's current generation marks it live. */
  readonly gen: number;
  readonly id: bigint;
}

function less(a: HeapEntry, b: HeapEntry): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.gen < b.gen);
}

export class TimeHeap {
  /** Heap-ordered: items[i] is not less than items[(i - 1) >> 1]. */
  private items: HeapEntry[] = [];
  pushes = 0;
  pops = 0;
  /** Parent/child comparisons that moved an entry: the real cost of push and pop. */
  siftSteps = 0;

  get size(): number {
    return this.items.length;
  }

  peek(): HeapEntry | undefined {
    return this.items[0];
  }

  push(e: HeapEntry): void {
    assert.ok(Number.isFinite(e.dueMs), `heap entry due at ${e.dueMs}`);
    assert.ok(Number.isSafeInteger(e.gen) && e.gen > 0, `heap entry generation ${e.gen}`);
    this.items.push(e);
    this.pushes++;
    this.siftUp(this.items.length - 1);
  }

  pop(): HeapEntry | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      this.siftDown(0);
    }
    this.pops++;
    return top;
  }

  clear(): void {
    this.items = [];
  }

  /** Keeps only the entries `live` accepts and restores heap order in O(n). */
  compact(live: (e: HeapEntry) => boolean): void {
    this.items = this.items.filter(live);
    this.heapify();
  }

  /** Replaces the contents with `entries` (any order) in O(n). */
  reset(entries: HeapEntry[]): void {
    for (const e of entries) assert.ok(Number.isFinite(e.dueMs) && e.gen > 0);
    this.items = entries;
    this.heapify();
  }

  private heapify(): void {
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
    assert.ok(this.items.length < 2 || !less(this.items[1]!, this.items[0]!), 'heapify broke the order');
  }

  private siftUp(i: number): void {
    const items = this.items;
    const e = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!less(e, p)) break;
      items[i] = p;
      i = parent;
      this.siftSteps++;
    }
    items[i] = e;
  }

  private siftDown(i: number): void {
    const items = this.items;
    const n = items.length;
    const e = items[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && less(items[right]!, items[left]!) ? right : left;
      const c = items[child]!;
      if (!less(c, e)) break;
      items[i] = c;
      i = child;
      this.siftSteps++;
    }
    items[i] = e;
  }
}

// ---- timers over the heap --------------------------------------------------------------------
//
// A lease's timer wants to fire at `atMs`; its one live heap entry is due at `dueMs` <= atMs.
// Moving a timer LATER (a renew: the common case, many times per TTL) costs nothing: only atMs
// changes, and when the old entry surfaces it is re-armed at atMs (one pop and one push per TTL,
// however many renews). Moving it EARLIER pushes a new entry with a new generation, which kills
// the old one. So each timer has at most one live entry, and dead entries only come from leases
// that went away or timers moved earlier; `arm` compacts when those outnumber the live ones.
//
// Worked example: granted at t=0 with TTL 10 s, the timer is armed at 10000 (entry g1 due
// 10000). Renews at 3000, 6000 and 9000 set atMs = 19000, no heap work. At 10000 g1 pops: atMs is
// later, so it is re-armed (entry g2 due 19000). Nothing more is renewed: at 19000 g2 fires.

export interface Timer {
  /** When the owner wants to look at this lease next; Infinity: never. */
  atMs: number;
  /** Due time of the live heap entry; Infinity: none. Invariant: dueMs <= atMs. */
  dueMs: number;
  /** Generation of the live entry; entries of other generations are dead. */
  gen: number;
}

export function newTimer(): Timer {
  return { atMs: Infinity, dueMs: Infinity, gen: 0 };
}

/** Dead entries tolerated beyond the live ones before the heap is compacted. */
export const TIMER_DEAD_SLACK_ENTRIES = 1024;

export class TimerQueue {
  readonly heap = new TimeHeap();
  /** Last generation handed out. */
  private gen = 0;

  /** `timerOf(id)`: the timer this queue runs for lease id, undefined when the lease is gone. */
  constructor(
    private readonly timerOf: (id: bigint) => Timer | undefined,
    private readonly liveCount: () => number,
  ) {}

  /** Makes `t` (lease `id`'s timer) fire at `atMs` or later; pushes only when that is earlier. */
  arm(id: bigint, t: Timer, atMs: number): void {
    assert.ok(!Number.isNaN(atMs));
    t.atMs = atMs;
    if (atMs >= t.dueMs || atMs === Infinity) return;
    t.gen = ++this.gen;
    t.dueMs = atMs;
    this.heap.push({ dueMs: atMs, gen: t.gen, id });
    if (this.heap.size > 2 * this.liveCount() + TIMER_DEAD_SLACK_ENTRIES) {
      this.heap.compact((e) => this.timerOf(e.id)?.gen === e.gen);
      assert.ok(this.heap.size <= this.liveCount(), 'more live entries than timers');
    }
    assert.ok(t.dueMs <= t.atMs);
  }

  /** Drops every entry; the caller resets its timers with `newTimer()` values. */
  clear(): void {
    this.heap.clear();
  }

  /** Replaces the heap with one entry per armed timer, in O(n) (no pushes). */
  rebuild(timers: Iterable<[bigint, Timer]>): void {
    const entries: HeapEntry[] = [];
    for (const [id, t] of timers) {
      t.gen = ++this.gen;
      t.dueMs = t.atMs;
      if (t.atMs !== Infinity) entries.push({ dueMs: t.atMs, gen: t.gen, id });
    }
    this.heap.reset(entries);
  }

  /** Whether some entry (live or dead) is due at nowMs: more work for `fireDue`. */
  hasDue(nowMs: number): boolean {
    const top = this.heap.peek();
    return top !== undefined && top.dueMs <= nowMs;
  }

  /**
   * Pops due entries until `fire` has been called `firedMax` times, `popsMax` entries were
   * popped, or nothing is due. Live timers whose atMs is later are re-armed; dead entries are
   * dropped; `fire(id, timer)` gets the rest, with the timer disarmed (it may arm it again).
   */
  fireDue(nowMs: number, popsMax: number, firedMax: number, fire: (id: bigint, t: Timer) => void): void {
    assert.ok(popsMax >= 1 && firedMax >= 1);
    let fired = 0;
    for (let pops = 0; fired < firedMax && pops < popsMax; pops++) {
      const top = this.heap.peek();
      if (top === undefined || top.dueMs > nowMs) break;
      this.heap.pop();
      const t = this.timerOf(top.id);
      if (t === undefined || t.gen !== top.gen) continue; // dead
      assert.ok(t.dueMs === top.dueMs && t.atMs >= t.dueMs, 'live entry disagrees with its timer');
      t.dueMs = Infinity;
      if (t.atMs > nowMs) { this.arm(top.id, t, t.atMs); continue; } // moved later meanwhile
      t.atMs = Infinity;
      fired++;
      fire(top.id, t);
    }
  }
}
