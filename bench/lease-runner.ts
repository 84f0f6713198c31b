// The main-thread side of the lease scenario (`npm run bench -- lease --leases L ...`). For one
// server (one target, one round), `runLeaseRound()` measures:
//
// 1. the idle baseline: the server's CPU over an idle window with no lease (`--param idle`);
// 2. for each L in turn:
//    a. grant L leases with a long TTL (`--param ttl`, 3600 s), `grant-concurrency` requests in
//       flight, each on its own connection: the grant rate;
//    b. settle, then the CPU at rest: server CPU time (/proc/<pid>/stat utime+stime) over the idle
//       window with the L leases granted and NOT kept alive, and the server's RSS around it;
//    c. keep-alives: S streams renew the L leases as fast as the server answers for warm-up +
//       duration (lease-stream.ts), with the server's and the bench's CPU sampled over the window;
//    d. revoke the L leases (concurrently) before the next L, so each point starts from none; the
//       last point's leases go with the server when the bench started it.
//
// Every phase is bounded: grants and revokes must reach `grantRateFloorPerS` (plus slack) or the
// point fails with how far they got; the streams stop at the window's end plus one timeout.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { RawConnection } from './http-client.js';
import { grantBudgetS, isLeasePoint } from './lease.js';
import type { LeaseFigures, LeasePoint } from './lease.js';
import { runKeepAlives } from './lease-stream.js';
import type { LeaseParams } from './options.js';
import { sampleCpuOverWindow } from './runner.js';
import { processCpuSeconds, processRssKiB } from './servers.js';
import { pointFromWorkers } from './stats.js';

/** How often a long grant or revoke phase reports its progress on stderr. */
const progressIntervalMs = 10_000;
/** Time the streams get to connect before warm-up starts. */
const streamStartMarginMs = 300;

export interface LeaseRoundSpec {
  readonly target: string;
  readonly round: number;
  readonly endpoints: readonly string[];
  readonly serverPids: readonly number[];
  /** The bench started this server and discards it after the round (no final revoke needed). */
  readonly ownsServer: boolean;
  readonly leaseCounts: readonly number[];
  readonly transport: 'http' | 'ws';
  readonly params: LeaseParams;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly requestTimeoutMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function serverRssKiB(pids: readonly number[]): number {
  return pids.length === 0 ? Number.NaN : pids.reduce((s, pid) => s + (processRssKiB(pid) ?? Number.NaN), 0);
}

/** Server CPU (cores, all members) over `idleS` seconds of doing nothing; undefined without pids. */
export async function measureIdleCpu(pids: readonly number[], idleS: number): Promise<number | undefined> {
  if (idleS <= 0 || pids.length === 0) return undefined;
  const read = (): number | undefined => pids.reduce<number | undefined>((s, pid) => {
    const c = processCpuSeconds(pid);
    return s === undefined || c === undefined ? undefined : s + c;
  }, 0);
  const c0 = read();
  const t0 = performance.now();
  await sleep(idleS * 1000);
  const c1 = read();
  const wallS = (performance.now() - t0) / 1000;
  return c0 === undefined || c1 === undefined ? undefined : (c1 - c0) / wallS;
}

/**
 * Runs `count` requests, `concurrency` at a time (lane i on its own connection to endpoint
 * i % n); `request(i)` builds the i-th and `accept` checks each answer (throws to fail the phase).
 * Fails when any request fails or the phase outlives `budgetS`. Returns the seconds it took.
 */
export async function runConcurrently(
  what: string, endpoints: readonly string[], count: number, concurrency: number, timeoutMs: number, budgetS: number,
  request: (i: number) => string, path: string, accept: (i: number, status: number, body: Buffer) => void,
): Promise<number> {
  assert.ok(endpoints.length >= 1 && concurrency >= 1, 'endpoints and concurrency');
  const t0 = performance.now();
  const deadline = t0 + budgetS * 1000;
  let next = 0;
  let done = 0;
  const progress = setInterval(() => process.stderr.write(`  ${what}: ${done}/${count} after ${Math.round((performance.now() - t0) / 1000)} s\n`), progressIntervalMs);
  const lane = async (l: number): Promise<void> => {
    const conn = new RawConnection(endpoints[l % endpoints.length] ?? '', timeoutMs);
    try {
      while (next < count) {
        if (performance.now() > deadline) throw new Error(`${what}: only ${done} of ${count} within ${Math.round(budgetS)} s`);
        const i = next++;
        const res = await conn.request({ method: 'POST', path, body: request(i) });
        accept(i, res.status, res.body);
        done++;
      }
    } finally {
      conn.close();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, l) => lane(l)));
  } finally {
    clearInterval(progress);
  }
  assert.equal(done, count, `${what}: every request answered`);
  return (performance.now() - t0) / 1000;
}

/** Grants `count` leases of `ttlS`; answers their IDs (decimal strings) and the seconds taken. */
export async function grantLeases(endpoints: readonly string[], count: number, ttlS: number, concurrency: number, timeoutMs: number): Promise<{ ids: string[]; seconds: number }> {
  const ids: string[] = new Array<string>(count);
  const body = `{"TTL":${ttlS}}`;
  const seconds = await runConcurrently('grant', endpoints, count, concurrency, timeoutMs, grantBudgetS(count), () => body, '/v3/lease/grant', (i, status, text) => {
    const j = status === 200 ? (JSON.parse(text.toString('utf8')) as { ID?: string; TTL?: string; error?: string }) : undefined;
    if (j === undefined || j.ID === undefined || (j.error ?? '') !== '' || Number(j.TTL) <= 0) {
      throw new Error(`grant ${i} answered HTTP ${status}: ${text.toString('utf8', 0, 200)}`);
    }
    ids[i] = j.ID;
  });
  assert.ok(ids.every((id) => /^\d+$/.test(id)), 'every grant gave an ID');
  assert.equal(new Set(ids).size, count, 'the server granted distinct IDs');
  return { ids, seconds };
}

export async function revokeLeases(endpoints: readonly string[], ids: readonly string[], concurrency: number, timeoutMs: number): Promise<number> {
  return await runConcurrently('revoke', endpoints, ids.length, concurrency, timeoutMs, grantBudgetS(ids.length), (i) => `{"ID":"${ids[i] ?? ''}"}`, '/v3/lease/revoke', (i, status, text) => {
    if (status !== 200) throw new Error(`revoke of ${ids[i] ?? '?'} answered HTTP ${status}: ${text.toString('utf8', 0, 200)}`);
  });
}

/** One L: grant, idle, keep-alives; the leases stay granted (the caller revokes them). */
async function leasePoint(spec: LeaseRoundSpec, leases: number, idleBaseCpuCores: number | undefined): Promise<{ point: LeasePoint; ids: string[] }> {
  const p = spec.params;
  const rssBaseKiB = serverRssKiB(spec.serverPids);
  const { ids, seconds: grantS } = await grantLeases(spec.endpoints, leases, p.ttlS, p.grantConcurrency, spec.requestTimeoutMs);
  await sleep(p.settleS * 1000);
  const rssGrantedKiB = serverRssKiB(spec.serverPids);
  const idleCpuCores = await measureIdleCpu(spec.serverPids, p.idleS);
  const rssIdleEndKiB = serverRssKiB(spec.serverPids);
  const startMs = performance.now() + streamStartMarginMs + spec.warmupMs;
  const endMs = startMs + spec.durationMs;
  const epochOffsetMs = Date.now() - performance.now();
  const cpu = sampleCpuOverWindow(startMs + epochOffsetMs, endMs + epochOffsetMs, spec.serverPids);
  const ka = await runKeepAlives({
    endpoints: spec.endpoints, transport: spec.transport, streams: p.streams, window: p.window, leaseIds: ids,
    startMs, endMs, requestTimeoutMs: spec.requestTimeoutMs,
  });
  const used = await cpu;
  const base = pointFromWorkers({
    target: spec.target, clients: leases, threads: Math.min(leases, p.streams), round: spec.round, windowS: spec.durationMs / 1000,
    generatorCpuCores: used.generator, serverCpuCores: used.server,
  }, [{ histogramB64: ka.histogramB64, ops: ka.ops, warmupOps: ka.warmupOps, errors: ka.errors, outcomes: {} }]);
  const lease: LeaseFigures = {
    transport: spec.transport, streams: Math.min(leases, p.streams), window: p.window, ttlS: p.ttlS,
    grantS, grantPerS: leases / grantS, idleS: p.idleS, idleBaseCpuCores, idleCpuCores,
    rssBaseKiB, rssGrantedKiB, rssIdleEndKiB, rssPerLeaseBytes: ((rssIdleEndKiB - rssBaseKiB) * 1024) / leases,
    expired: ka.expired, restarts: ka.restarts, answered: ka.answered,
  };
  const point: LeasePoint = { ...base, lease };
  assert.ok(isLeasePoint(point), 'a lease point carries its lease figures');
  return { point, ids };
}

/** All lease points of one server (target and round); `onPoint` sees each as it is measured. */
export async function runLeaseRound(spec: LeaseRoundSpec, onPoint: (p: LeasePoint) => void): Promise<LeasePoint[]> {
  assert.ok(spec.leaseCounts.length >= 1, 'at least one lease count');
  await sleep(spec.params.settleS * 1000);
  const idleBaseCpuCores = await measureIdleCpu(spec.serverPids, spec.params.idleS);
  const points: LeasePoint[] = [];
  for (const [i, leases] of spec.leaseCounts.entries()) {
    const { point, ids } = await leasePoint(spec, leases, idleBaseCpuCores);
    onPoint(point);
    points.push(point);
    const last = i === spec.leaseCounts.length - 1;
    if (!last || !spec.ownsServer) await revokeLeases(spec.endpoints, ids, spec.params.grantConcurrency, spec.requestTimeoutMs);
  }
  return points;
}
