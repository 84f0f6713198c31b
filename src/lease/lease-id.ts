// Lease ids chosen by the server when a client grants with ID 0.
//
// The id must be chosen BEFORE proposing (it travels in the raft entry), so that every member
// applies the same grant; it is never drawn at apply time. Randomness is injected (any source
// with `nextU32()`, e.g. `SeededRng` from src/raft/rng.ts) so tests are replayable.
//
// etcd draws ids from its request-id generator masked to 63 bits, so server-chosen ids are
// always positive; clients may still choose any non-zero int64 (etcd accepts ID -7). We draw 63
// random bits: a collision with an existing lease is about n / 2^63, and `Lessor.chooseId()`
// also skips ids it already holds.

import assert from 'node:assert/strict';

export interface Rng32 {
  /** Uniform integer in [0, 2^32). */
  nextU32(): number;
}

/** Smallest and largest int64: lease ids are int64 on the wire. */
export const LEASE_ID_MIN = -(1n << 63n);
export const LEASE_ID_MAX = (1n << 63n) - 1n;

/** Draws before giving up on finding a non-zero id (the chance of needing a second is 2^-63). */
const ZERO_REDRAWS_MAX = 4;

/** A random lease id in [1, 2^63). */
export function randomLeaseId(rng: Rng32): bigint {
  for (let attempt = 0; attempt < ZERO_REDRAWS_MAX; attempt++) {
    const hi = rng.nextU32();
    const lo = rng.nextU32();
    assert.ok(Number.isInteger(hi) && hi >= 0 && hi < 2 ** 32, `rng gave ${hi}`);
    assert.ok(Number.isInteger(lo) && lo >= 0 && lo < 2 ** 32, `rng gave ${lo}`);
    const id = (BigInt(hi & 0x7fffffff) << 32n) | BigInt(lo);
    if (id !== 0n) return id;
  }
  assert.fail('rng keeps drawing lease id 0: it is not random');
}

export function isInt64(id: bigint): boolean {
  return id >= LEASE_ID_MIN && id <= LEASE_ID_MAX;
}
