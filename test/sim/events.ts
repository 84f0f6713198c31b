// The simulation's clock and agenda: a binary min-heap of timed events ordered by (time, seq).
// `seq` is a global insertion counter, so two events due at the same time fire in the order they
// were scheduled; together with the seeded RNG this makes every run a pure function of its seed.
// Time is an integer in abstract "time units" (the cluster ticks every TICK_INTERVAL units), so
// sub-tick network and disk delays are expressible without floating point.

import assert from 'node:assert/strict';

/** Bound on pending events: a run that exceeds it is runaway (a message storm), not a workload. */
export const EVENTS_PENDING_MAX = 200_000;

export interface Timed<E> {
  time: number;
  seq: number;
  event: E;
}

export class EventQueue<E> {
  // heap[0] is the earliest event; invariant: heap order on (time, seq).
  private readonly heap: Timed<E>[] = [];
  private seqNext = 0;
  /** Time of the last event popped; never decreases. */
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  schedule(time: number, event: E): void {
    assert.ok(Number.isInteger(time), `event time must be an integer: ${time}`);
    assert.ok(time >= this.now, `event scheduled in the past: ${time} < ${this.now}`);
    assert.ok(this.heap.length < EVENTS_PENDING_MAX, 'event queue overflow (message storm?)');
    this.heap.push({ time, seq: this.seqNext++, event });
    this.siftUp(this.heap.length - 1);
  }

  pop(): Timed<E> | undefined {
    const top = this.heap[0];
    if (top === undefined) return undefined;
    const last = this.heap.pop() as Timed<E>;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    assert.ok(top.time >= this.now, 'clock went backwards');
    this.now = top.time;
    return top;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.time;
  }

  private less(i: number, j: number): boolean {
    const a = this.heap[i] as Timed<E>;
    const b = this.heap[j] as Timed<E>;
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const t = this.heap[i] as Timed<E>;
    this.heap[i] = this.heap[j] as Timed<E>;
    this.heap[j] = t;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
