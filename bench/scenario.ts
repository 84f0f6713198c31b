// The plug-in contract for load scenarios. A scenario is one file `bench/scenarios/<name>.ts`
// whose default export is a `Scenario`; the runner finds it by file name, so adding a workload
// (watch fan-out, lease keep-alives, ...) is adding a file and touches nothing else.
//
// A scenario lives in two places at once: `prepare()` runs once in the main thread before the
// load (to create the keys a read workload reads), and `createClient()` runs in a load worker once
// per simulated client. A client is a script: the worker asks it for the next request, sends it,
// waits for the answer (one request in flight per client) and hands 2xx bodies back to `check()`.
// Scripts keep per-client state (a CAS client remembers the revision it last saw), so they must
// not share mutable state with other clients.
//
// This file also holds the small pure helpers scenarios share: key naming, base64, a seeded RNG.

import assert from 'node:assert/strict';

/** Options common to all scenarios; every one has a default in `options.ts`. */
export interface ScenarioOptions {
  /** Size of the key space the workload draws keys from (K). */
  readonly keyCount: number;
  /** Value size in bytes for writes (V). */
  readonly valueBytes: number;
  /** Fraction of reads in a mixed workload, 0..1. */
  readonly readRatio: number;
  /** Free-form `--param name=value` pairs for scenario-specific knobs. */
  readonly params: Readonly<Record<string, string>>;
}

export interface BenchRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** JSON text (ASCII), or undefined for no body. */
  readonly body: string | undefined;
}

export interface ClientContext {
  /** 0-based index of this client among all clients of the run point. */
  readonly clientIndex: number;
  readonly clientCount: number;
  readonly options: ScenarioOptions;
}

export interface ClientScript {
  next(): BenchRequest;
  /**
   * Looks at a 2xx answer. Returns a label for a noteworthy but successful outcome (counted, e.g.
   * `cas-conflict`), or undefined. Throws when the answer is not what the request asks for; the
   * request is then counted as an error labelled with the message.
   */
  check?(body: Buffer): string | undefined;
}

export interface PrepareContext {
  readonly endpoints: readonly string[];
  readonly options: ScenarioOptions;
  /** Sends one request to `endpoints[i % n]` and resolves with status and body. */
  send(endpointIndex: number, req: BenchRequest): Promise<{ status: number; body: Buffer }>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Members to start for `--compare`/`--target` when `--members` is not given (default 1). */
  readonly membersDefault?: number;
  /**
   * A scenario that holds long-lived streams instead of sending requests: `watch-fanout` opens W
   * watchers on one prefix and runs one writer (`fanout-runner.ts`, `--watchers`, `--transport`,
   * `--rate`); `createClient()` is then the writer's script, usable as a plain put load.
   */
  readonly streams?: 'watch-fanout';
  prepare?(ctx: PrepareContext): Promise<void>;
  createClient(ctx: ClientContext): ClientScript;
}

/** Scenario names are file names: lower-case words joined by dashes. */
export const SCENARIO_NAME_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** The key of slot `i` of the key space: `bench/` + 8 digits, so keys sort in slot order. */
export function keyOfSlot(i: number): string {
  assert.ok(Number.isInteger(i) && i >= 0 && i < 1e8, `key slot out of range: ${i}`);
  return `bench/${String(i).padStart(8, '0')}`;
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** A deterministic printable value of exactly `bytes` bytes, base64-encoded for the gateway. */
export function valueB64(bytes: number, seed: number): string {
  assert.ok(Number.isInteger(bytes) && bytes >= 0, `value size must be a non-negative integer: ${bytes}`);
  const rng = xorshift32(seed);
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) buf[i] = 97 + (rng() % 26);
  return buf.toString('base64');
}

/**
 * xorshift32: a tiny seeded generator, so every client draws its own reproducible key sequence
 * without sharing state. Returns unsigned 32-bit integers.
 */
export function xorshift32(seed: number): () => number {
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** The base64 keys of the whole key space, built once per thread and shared read-only. */
const keyTableCache = new Map<number, readonly string[]>();
export function keyTableB64(keyCount: number): readonly string[] {
  assert.ok(Number.isInteger(keyCount) && keyCount >= 1, `key count must be >= 1: ${keyCount}`);
  let table = keyTableCache.get(keyCount);
  if (table === undefined) {
    table = Array.from({ length: keyCount }, (_, i) => b64(keyOfSlot(i)));
    keyTableCache.set(keyCount, table);
  }
  return table;
}

/** Puts every key of the key space once (values of `valueBytes`), `concurrency` at a time. */
export async function fillKeySpace(ctx: PrepareContext, concurrency = 16): Promise<void> {
  const keys = keyTableB64(ctx.options.keyCount);
  const value = valueB64(ctx.options.valueBytes, 1);
  let next = 0;
  const worker = async (lane: number): Promise<void> => {
    while (next < keys.length) {
      const slot = next++;
      const body = `{"key":"${keys[slot]}","value":"${value}"}`;
      const res = await ctx.send(lane, { method: 'POST', path: '/v3/kv/put', body });
      if (res.status !== 200) throw new Error(`prepare: put ${keyOfSlot(slot)} answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, (_, lane) => worker(lane)));
}
