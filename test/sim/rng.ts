// Seeded pseudo-random generator for the deterministic simulation. Every random choice the
// simulation makes (delays, drops, faults, workload) comes from one of these, so a run is a pure
// function of its seed. The generator is sfc32 seeded through splitmix32: small, fast, and good
// enough for fault injection (this is not cryptography). Sub-generators are forked by label so
// that adding a draw in one area (say, the network) does not shift the draws of another area
// (say, the workload), which keeps replays of old seeds meaningful while the harness evolves.

import assert from 'node:assert/strict';

const UINT32_RANGE = 0x1_0000_0000;

/** splitmix32 step: spreads a 32-bit seed into well-mixed state words. */
function splitmix32(state: number): [next: number, out: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/** Stable 32-bit hash of a label (FNV-1a), used to fork independent streams. */
export function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  // sfc32 state; invariant: never all zero (the counter d makes that impossible after one step).
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  readonly seed: number;

  constructor(seed: number) {
    assert.ok(Number.isSafeInteger(seed) && seed >= 0, `seed must be a non-negative integer: ${seed}`);
    this.seed = seed;
    let s = (seed ^ Math.floor(seed / UINT32_RANGE)) | 0;
    let out: number;
    [s, out] = splitmix32(s); this.a = out;
    [s, out] = splitmix32(s); this.b = out;
    [s, out] = splitmix32(s); this.c = out;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextU32(); // warm up: early sfc32 outputs are correlated
  }

  /** An independent generator for one area of the simulation, derived from this seed. */
  fork(label: string): Rng {
    return new Rng(((this.seed * 31 + hashLabel(label)) % Number.MAX_SAFE_INTEGER) >>> 0);
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextU32() / UINT32_RANGE;
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    assert.ok(Number.isInteger(lo) && Number.isInteger(hi) && lo <= hi, `bad range [${lo}, ${hi}]`);
    const span = hi - lo + 1;
    assert.ok(span <= UINT32_RANGE, 'range too wide');
    return lo + Math.floor(this.float() * span);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    assert.ok(p >= 0 && p <= 1, `probability out of range: ${p}`);
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    assert.ok(items.length > 0, 'pick from an empty list');
    const item = items[this.int(0, items.length - 1)];
    return item as T;
  }

  /** Picks a key by weight; weights must be non-negative with a positive sum. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const keys = Object.keys(weights) as K[];
    let total = 0;
    for (const k of keys) total += weights[k];
    assert.ok(total > 0, 'weights sum to zero');
    let x = this.float() * total;
    for (const k of keys) {
      x -= weights[k];
      if (x < 0) return k;
    }
    return keys[keys.length - 1] as K;
  }

  /** A random subset (each item independently with probability p). */
  subset<T>(items: readonly T[], p: number): T[] {
    return items.filter(() => this.chance(p));
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = out[i] as T;
      out[i] = out[j] as T;
      out[j] = tmp;
    }
    return out;
  }
}
