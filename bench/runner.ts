// Drives one run point with the piscina pool: splits N clients over the worker threads, gives
// every worker the same wall-clock measurement window (warm-up before it), waits for all of
// them and merges their figures. It also measures CPU over the window: the bench process's own
// (all its threads: the generator) and the server processes' (from /proc), because on a small
// machine the two share the cores and that is the first thing to check in any figure.

import assert from 'node:assert/strict';
import path from 'node:path';
import { Piscina } from 'piscina';
import type { HttpClientKind } from './http-client.js';
import type { LoadResult, LoadTask } from './protocol.js';
import type { ScenarioOptions } from './scenario.js';
import { BENCH_DIR, processCpuSeconds } from './servers.js';
import { pointFromWorkers } from './stats.js';
import type { PointResult } from './stats.js';

/** Time the workers get to receive the task and open connections before warm-up counts. */
const taskStartMarginMs = 300;
/** Extra time after the window for in-flight requests and the result transfer. */
const taskEndMarginMs = 30_000;

export function createPool(threads: number): Piscina {
  assert.ok(threads >= 1, 'at least one load thread');
  return new Piscina({
    filename: path.join(BENCH_DIR, 'load-worker.mjs'),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    // A task runs all of a worker's clients; tasks of one point must land on distinct workers.
    concurrentTasksPerWorker: 1,
    maxQueue: threads,
  });
}

/** Clients per worker: as even as possible, only workers with at least one client. */
export function splitClients(clients: number, threads: number): number[] {
  assert.ok(clients >= 1 && threads >= 1, 'clients and threads must be >= 1');
  const workers = Math.min(clients, threads);
  return Array.from({ length: workers }, (_, i) => Math.floor(clients / workers) + (i < clients % workers ? 1 : 0));
}

export interface PointSpec {
  readonly target: string;
  readonly round: number;
  readonly scenario: string;
  readonly endpoints: readonly string[];
  readonly serverPids: readonly number[];
  readonly clients: number;
  readonly threads: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly options: ScenarioOptions;
  readonly http: HttpClientKind;
  readonly requestTimeoutMs: number;
}

function serverCpuSeconds(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const s = processCpuSeconds(pid);
    if (s === undefined) return undefined;
    total += s;
  }
  return pids.length === 0 ? undefined : total;
}

/** Samples both CPU counters at the window's start and end (timers in the idle main thread). */
export function sampleCpuOverWindow(startMs: number, endMs: number, pids: readonly number[]): Promise<{ generator: number | undefined; server: number | undefined }> {
  return new Promise((resolve) => {
    setTimeout(() => {
      const g0 = process.cpuUsage();
      const s0 = serverCpuSeconds(pids);
      const t0 = Date.now();
      setTimeout(() => {
        const g = process.cpuUsage(g0);
        const s1 = serverCpuSeconds(pids);
        const wallS = (Date.now() - t0) / 1000;
        resolve({
          generator: wallS > 0 ? (g.user + g.system) / 1e6 / wallS : undefined,
          server: s0 !== undefined && s1 !== undefined && wallS > 0 ? (s1 - s0) / wallS : undefined,
        });
      }, Math.max(0, endMs - Date.now()));
    }, Math.max(0, startMs - Date.now()));
  });
}

export async function runPoint(pool: Piscina, spec: PointSpec): Promise<PointResult> {
  const shares = splitClients(spec.clients, spec.threads);
  const measureStartEpochMs = Date.now() + taskStartMarginMs + spec.warmupMs;
  const measureEndEpochMs = measureStartEpochMs + spec.durationMs;
  const cpu = sampleCpuOverWindow(measureStartEpochMs, measureEndEpochMs, spec.serverPids);
  let base = 0;
  const tasks = shares.map((clients) => {
    const task: LoadTask = {
      scenario: spec.scenario,
      endpoints: spec.endpoints,
      clients,
      clientIndexBase: base,
      clientCount: spec.clients,
      options: spec.options,
      measureStartEpochMs,
      measureEndEpochMs,
      http: spec.http,
      requestTimeoutMs: spec.requestTimeoutMs,
    };
    base += clients;
    return pool.run(task, { signal: AbortSignal.timeout(measureEndEpochMs - Date.now() + taskEndMarginMs) }) as Promise<LoadResult>;
  });
  assert.equal(base, spec.clients, 'every client is assigned to one worker');
  const results = await Promise.all(tasks);
  const used = await cpu;
  return pointFromWorkers({
    target: spec.target,
    clients: spec.clients,
    threads: shares.length,
    round: spec.round,
    windowS: spec.durationMs / 1000,
    generatorCpuCores: used.generator,
    serverCpuCores: used.server,
  }, results);
}

/**
 * Loads tsx and the scenario in every worker before the first point, so no point pays for it.
 * Each ping holds its worker briefly, so that the `threads` pings land on distinct workers.
 */
export async function warmPool(pool: Piscina, threads: number, scenario: string): Promise<void> {
  assert.ok(threads >= 1, 'at least one load thread');
  const ids = await Promise.all(Array.from({ length: threads }, () => pool.run({ scenario, holdMs: 200 }, { name: 'ping' }) as Promise<number>));
  assert.equal(ids.length, threads, 'every ping answered');
}
