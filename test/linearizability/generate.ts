// Random KV histories that are linearizable by construction, for testing the checker: clients
// issue ops one after another with random durations; each op takes effect at a random instant
// inside its interval (its linearization point), and results come from running the ops in the
// order of those instants against a sequential etcd-like store (one global revision, +1 per
// write). Some writes get no answer: they took effect at a random instant after their
// invocation (possibly past their would-be completion), or never.

import assert from 'node:assert/strict';
import type { HistoryOp, KvOp, KvResult } from './history.js';

export interface GenerateOptions {
  seed: number;
  clients: number;
  keys: number;
  opsPerClient: number;
  /** Probability that a write gets no answer. */
  maybeRate: number;
}

/** mulberry32: a small seeded generator, [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Planned {
  h: HistoryOp;
  /** When it takes effect; Infinity: never. */
  at: number;
}

export function generateHistory(o: GenerateOptions): HistoryOp[] {
  const rand = rng(o.seed);
  const pick = (n: number): number => Math.floor(rand() * n);
  const planned: Planned[] = [];
  let values = 0;
  for (let c = 0; c < o.clients; c++) {
    let t = rand() * 5;
    for (let i = 0; i < o.opsPerClient; i++) {
      const key = `k${pick(o.keys)}`;
      const roll = rand();
      // CAS expects a recent value of the key most of the time (so that some succeed).
      const op: KvOp = roll < 0.35 ? { kind: 'get', key }
        : roll < 0.7 ? { kind: 'put', key, value: `v${++values}` }
          : { kind: 'cas', key, expected: `v${Math.max(1, values - pick(4))}`, value: `v${++values}` };
      const call = t;
      const ret = call + 0.5 + rand() * 10;
      const maybe = op.kind !== 'get' && rand() < o.maybeRate;
      const at = maybe ? (rand() < 0.3 ? Infinity : call + rand() * 20) : call + rand() * (ret - call);
      planned.push({ h: maybe ? { id: 0, client: c, call, op } : { id: 0, client: c, call, ret, op }, at });
      t = ret + rand() * 2;
    }
  }
  runSequentially(planned);
  planned.sort((a, b) => a.h.call - b.h.call);
  return planned.map((p, id) => ({ ...p.h, id }));
}

/** Executes the ops in effect order on a sequential store, filling in the answered ops' results. */
function runSequentially(planned: Planned[]): void {
  const store = new Map<string, { value: string; modRevision: number }>();
  let revision = 1;
  for (const p of [...planned].sort((a, b) => a.at - b.at)) {
    if (p.at === Infinity) break;
    const o = p.h.op;
    const cur = store.get(o.key);
    let result: KvResult;
    if (o.kind === 'get') {
      result = cur === undefined ? { kind: 'get', value: undefined, revision } : { kind: 'get', value: cur.value, revision, modRevision: cur.modRevision };
    } else if (o.kind === 'put' || cur?.value === o.expected) {
      store.set(o.key, { value: o.value, modRevision: ++revision });
      result = o.kind === 'put' ? { kind: 'put', revision } : { kind: 'cas', succeeded: true, revision };
    } else {
      result = { kind: 'cas', succeeded: false, revision };
    }
    if (p.h.ret !== undefined) p.h.result = result;
  }
  assert.ok(planned.every((p) => (p.h.ret === undefined) === (p.h.result === undefined)), 'every answered op has a result');
}

/**
 * One random client op for live tests: 40% gets, 30% puts, 30% compare-and-swaps from the last
 * value this client saw for the key (so that some succeed and some race), over `keys` keys.
 */
export function randomKvOp(rand: () => number, client: number, n: number, lastSeen: Map<string, string>, keys: number): KvOp {
  const key = `lin/k${Math.floor(rand() * keys)}`;
  const roll = rand();
  const value = `c${client}-${n}`;
  if (roll < 0.4) return { kind: 'get', key };
  if (roll < 0.7) return { kind: 'put', key, value };
  return { kind: 'cas', key, expected: lastSeen.get(key) ?? 'none', value };
}
