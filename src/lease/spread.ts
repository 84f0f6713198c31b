// Spreading a pile-up of expiries, a pure helper of `Lessor.promote()`.
//
// Why: after a restart or a leader change every lease's expiry is recomputed from the same
// instant, so leases that were granted over minutes can all land in the same second. Revoking
// them is rate-limited (LEASE_REVOKE_RATE_PER_SEC), so a pile-up would keep expired leases alive
// for a long time and starve other revocations. etcd therefore pushes some expiries later, so
// that no second holds more than 3/4 of the revoke rate; we keep that rule (and etcd's condition
// that only lessors with at least a second's worth of revocations bother), with our own windowing:
//
// Walk the expiries in order; a window is [startMs, startMs + 1000). A lease that falls in the
// current window joins it while it has room; when it is full the window moves one second later
// and the lease is pushed to its start. A lease beyond the window opens a new one at its own
// expiry. Leases are only ever delayed, never brought forward, and order is kept.
//
// Worked example, perWindowMax 2, expiries [0, 0, 0, 100, 2500]:
//   0 -> window [0,1000) count 1; 0 -> count 2; 0 -> full, window [1000,2000), pushed to 1000;
//   100 -> max(100, 1000) = 1000, count 2; 2500 -> beyond, new window [2500,3500).
//   Result [0, 0, 1000, 1000, 2500].

import assert from 'node:assert/strict';

export const SPREAD_WINDOW_MS = 1000;

/** New expiries for `sortedMs` (ascending), in the same order, at most `perWindowMax` per window. */
export function spreadExpiries(sortedMs: readonly number[], perWindowMax: number): number[] {
  assert.ok(Number.isSafeInteger(perWindowMax) && perWindowMax > 0, `perWindowMax ${perWindowMax}`);
  const out: number[] = new Array<number>(sortedMs.length);
  let startMs = -Infinity;
  let count = 0;
  let prevMs = -Infinity;
  for (let i = 0; i < sortedMs.length; i++) {
    const e = sortedMs[i]!;
    assert.ok(e >= prevMs, 'spreadExpiries needs ascending input');
    prevMs = e;
    let at = Math.max(e, startMs);
    if (at >= startMs + SPREAD_WINDOW_MS) {
      startMs = at;
      count = 0;
    }
    if (count === perWindowMax) {
      startMs += SPREAD_WINDOW_MS;
      count = 0;
      at = Math.max(at, startMs);
    }
    count++;
    assert.ok(at >= e && at < startMs + SPREAD_WINDOW_MS);
    out[i] = at;
  }
  return out;
}
