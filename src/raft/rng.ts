// Seeded deterministic RNG for the raft core (election timeout jitter). The core may draw no
// other randomness: two nodes built with the same config and fed the same inputs behave the same,
// which is what makes the transcript tests and the cluster simulation replayable.
//
// Algorithm: mulberry32 (32-bit state, full period 2^32), good enough for timeout jitter.

import assert from 'node:assert/strict';

export class SeededRng {
  /** 32-bit unsigned state; any value is valid. */
  private state: number;

  constructor(seed: number) {
    assert.ok(Number.isFinite(seed), 'rng seed must be a finite number');
    this.state = seed >>> 0;
  }

  /** Next value in [0, 2^32). */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n). */
  intBelow(n: number): number {
    assert.ok(Number.isInteger(n) && n > 0, `intBelow(${n}): n must be a positive integer`);
    const v = this.nextU32() % n;
    assert.ok(v >= 0 && v < n);
    return v;
  }
}
