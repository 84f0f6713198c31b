// The lease scenario's pure parts (`npm run bench -- lease --leases L ...`, see bench/README.md):
// reading keep-alive answers, the HTTP framing of a keep-alive stream, which lease each stream
// renews next, the figures of a point beyond ops/s and latency, merging rounds and the ratios.
// The I/O lives in lease-stream.ts (the streams) and lease-runner.ts (grants, idle window, point).
//
// A keep-alive answer, as etcd 3.4's gateway and tetcd write it (one per line over HTTP, one per
// frame over WebSocket): `{"result":{"header":{...},"ID":"7587...","TTL":"3600"}}`. A lease the
// server does not know (expired, revoked) is answered with the ID and no TTL (TTL 0 is left out).
// A failed stream ends with grpc-gateway's `{"error":{"grpc_code":14,...,"message":"..."}}`.
// Answers are scanned with indexOf rather than parsed: the gateway's JSON has a fixed shape
// (int64s are quoted decimal strings) and the header holds no key spelled `"ID"` or `"TTL"`.

import assert from 'node:assert/strict';
import type { LeaseParams } from './options.js';
import { mergeRounds } from './stats.js';
import type { PointResult } from './stats.js';

/** The scenario's name: run.ts hands it to lease-runner.ts instead of the request load. */
export const LEASE_SCENARIO = 'lease';

/** Below this rate a grant or revoke phase is considered stuck (the point fails, bounded). */
export const grantRateFloorPerS = 100;
/** Beyond L / floor, the time a grant or revoke phase gets. */
export const grantSlackS = 30;

export type KeepAliveAnswer =
  | { readonly kind: 'result'; readonly id: string; readonly ttlS: number }
  | { readonly kind: 'error'; readonly message: string };

function quotedAfter(text: string, name: string): string | undefined {
  const at = text.indexOf(`"${name}":"`);
  if (at < 0) return undefined;
  const from = at + name.length + 4;
  const end = text.indexOf('"', from);
  return end < 0 ? undefined : text.slice(from, end);
}

/** Reads one answer line or frame; throws on anything that is neither a result nor an error. */
export function scanKeepAliveAnswer(text: string): KeepAliveAnswer {
  const line = text.trim();
  if (line.startsWith('{"result":')) {
    const id = quotedAfter(line, 'ID');
    const ttl = quotedAfter(line, 'TTL');
    if (id === undefined || !/^\d+$/.test(id)) throw new Error(`keep-alive answer without an ID: ${line.slice(0, 120)}`);
    const ttlS = ttl === undefined ? 0 : Number(ttl);
    assert.ok(Number.isInteger(ttlS), `keep-alive answer with a bad TTL: ${line.slice(0, 120)}`);
    return { kind: 'result', id, ttlS };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`keep-alive answer is not JSON: ${line.slice(0, 120)}`);
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  if (error === undefined) throw new Error(`keep-alive answer is neither result nor error: ${line.slice(0, 120)}`);
  const message = typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string'
    ? (error as { message: string }).message
    : typeof (parsed as { message?: unknown }).message === 'string' ? (parsed as { message: string }).message : JSON.stringify(error);
  return { kind: 'error', message };
}

/** One keep-alive request (the ID as the decimal string the grant answered, int64-safe). */
export function keepAliveJson(id: string): string {
  assert.match(id, /^\d+$/, 'a lease ID is a decimal string');
  return `{"ID":"${id}"}`;
}

/** One keep-alive request as a chunk of the chunked request body, newline-terminated. */
export function keepAliveChunk(id: string): string {
  const text = `${keepAliveJson(id)}\n`;
  return `${text.length.toString(16)}\r\n${text}\r\n`;
}

/**
 * The head of the keep-alive POST stream. `Expect: 100-continue` is what makes etcd 3.4's gateway
 * full duplex: without it Go's HTTP/1 server, on writing the first answer, reads the rest of the
 * request body to its end before sending anything (checked: no answer until the body ends, and
 * then none at all); with it, the body stays readable while answers go out (curl sends it too).
 */
export function keepAliveHead(host: string): string {
  return `POST /v3/lease/keepalive HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
    'Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n';
}

/** Interim heads are at most this long (etcd and Node send `HTTP/1.1 100 Continue\r\n\r\n`). */
const interimHeadBytesMax = 4096;

/**
 * Drops complete `1xx` interim heads from the start of a response's first bytes. `waiting`: the
 * bytes may still be (the start of) an interim head, wait for more; otherwise `rest` starts with
 * the final head. Worked example: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK..." -> "HTTP/1.1 200 OK...".
 */
export function skipInterimHeads(buf: Buffer): { rest: Buffer; waiting: boolean } {
  let rest = buf;
  for (;;) {
    if (rest.length < 12) return { rest, waiting: true };
    if (!/^HTTP\/1\.[01] 1\d\d$/.test(rest.toString('latin1', 0, 12))) return { rest, waiting: false };
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) {
      if (rest.length > interimHeadBytesMax) throw new Error('interim response head too large');
      return { rest, waiting: true };
    }
    rest = rest.subarray(end + 4);
  }
}

/** Streams actually opened: never more than leases, so every stream has one to renew. */
export function streamCount(leases: number, streams: number): number {
  assert.ok(leases >= 1 && streams >= 1, 'leases and streams must be >= 1');
  return Math.min(leases, streams);
}

/**
 * Which lease (index into the granted IDs) stream `stream` renews at its `k`-th keep-alive. The
 * leases are dealt round-robin (stream i owns i, i+S, i+2S...), and each stream cycles through
 * its own, so all L are renewed evenly and no two streams renew the same lease.
 * Example, L=5, S=2: stream 0 -> 0, 2, 4, 0, ...; stream 1 -> 1, 3, 1, ...
 */
export function leaseIndexOf(stream: number, k: number, leases: number, streams: number): number {
  assert.ok(stream >= 0 && stream < streams && streams <= leases, `stream ${stream} of ${streams} for ${leases} leases`);
  assert.ok(Number.isInteger(k) && k >= 0, 'k counts keep-alives from 0');
  const owned = Math.floor((leases - 1 - stream) / streams) + 1;
  return stream + (k % owned) * streams;
}

/** The figures of a lease point beyond keep-alives/s and latency (see bench/README.md). */
export interface LeaseFigures {
  readonly transport: 'http' | 'ws';
  readonly streams: number;
  readonly window: number;
  readonly ttlS: number;
  /** Seconds to grant all L (concurrently), and L / that. */
  readonly grantS: number;
  readonly grantPerS: number;
  /** Length of the idle windows; 0 when they were skipped. */
  readonly idleS: number;
  /** Server CPU (cores) at rest with no lease, and with the L leases granted and not kept alive. */
  readonly idleBaseCpuCores: number | undefined;
  readonly idleCpuCores: number | undefined;
  /** Server RSS (all members) before granting, after granting and settling, after the idle window. */
  readonly rssBaseKiB: number;
  readonly rssGrantedKiB: number;
  readonly rssIdleEndKiB: number;
  /** (rssIdleEnd - rssBase) / L. */
  readonly rssPerLeaseBytes: number;
  /** Keep-alive answers with TTL 0 (the server no longer knew the lease), in the whole run. */
  readonly expired: number;
  /** Streams reopened after failing. */
  readonly restarts: number;
  /** Keep-alives answered in the whole run (warm-up, window, tail). */
  readonly answered: number;
}

/** A lease point: `clients` is L, `ops` the keep-alives answered in the window, `threads` the streams. */
export type LeasePoint = PointResult & { readonly lease: LeaseFigures };

export function isLeasePoint(p: PointResult): p is LeasePoint {
  return (p as Partial<LeasePoint>).lease !== undefined;
}

function meanOf(xs: ReadonlyArray<number | undefined>): number | undefined {
  const ds = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return ds.length === 0 ? undefined : ds.reduce((s, x) => s + x, 0) / ds.length;
}

/** Merges the lease figures of several rounds: counts add up, rates, CPU and memory average. */
export function mergeLeaseFigures(figs: readonly LeaseFigures[]): LeaseFigures {
  const first = figs[0];
  assert.ok(first !== undefined, 'no lease figures to merge');
  assert.ok(figs.every((f) => f.transport === first.transport && f.streams === first.streams), 'merging unlike lease points');
  const mean = (f: (x: LeaseFigures) => number): number => meanOf(figs.map(f)) ?? Number.NaN;
  const sum = (f: (x: LeaseFigures) => number): number => figs.reduce((s, x) => s + f(x), 0);
  return {
    transport: first.transport, streams: first.streams, window: first.window, ttlS: first.ttlS,
    grantS: mean((x) => x.grantS), grantPerS: mean((x) => x.grantPerS), idleS: first.idleS,
    idleBaseCpuCores: meanOf(figs.map((x) => x.idleBaseCpuCores)), idleCpuCores: meanOf(figs.map((x) => x.idleCpuCores)),
    rssBaseKiB: mean((x) => x.rssBaseKiB), rssGrantedKiB: mean((x) => x.rssGrantedKiB), rssIdleEndKiB: mean((x) => x.rssIdleEndKiB),
    rssPerLeaseBytes: mean((x) => x.rssPerLeaseBytes),
    expired: sum((x) => x.expired), restarts: sum((x) => x.restarts), answered: sum((x) => x.answered),
  };
}

/** Merges the rounds of one target and L. */
export function mergeLeaseRounds(points: readonly LeasePoint[]): LeasePoint {
  assert.ok(points.length >= 1, 'no rounds to merge');
  return { ...mergeRounds(points), lease: mergeLeaseFigures(points.map((p) => p.lease)) };
}

export interface LeaseRatios {
  readonly leases: number;
  readonly opsPerS: number;
  readonly p50: number;
  readonly p99: number;
  readonly serverCpu: number;
  readonly grantPerS: number;
  readonly idleCpu: number;
  readonly rssPerLease: number;
}

/** tetcd/etcd of every lease figure (NaN where etcd's is 0 or a figure is missing). */
export function leaseRatios(t: LeasePoint, e: LeasePoint): LeaseRatios {
  assert.equal(t.clients, e.clients, 'ratios of unlike lease points');
  const r = (a: number | undefined, b: number | undefined): number => (a === undefined || b === undefined || b === 0 ? Number.NaN : a / b);
  return {
    leases: t.clients,
    opsPerS: r(t.opsPerS, e.opsPerS),
    p50: r(t.latencyUs.p50, e.latencyUs.p50),
    p99: r(t.latencyUs.p99, e.latencyUs.p99),
    serverCpu: r(t.serverCpuCores, e.serverCpuCores),
    grantPerS: r(t.lease.grantPerS, e.lease.grantPerS),
    idleCpu: r(t.lease.idleCpuCores, e.lease.idleCpuCores),
    rssPerLease: r(t.lease.rssPerLeaseBytes, e.lease.rssPerLeaseBytes),
  };
}

/** Seconds a grant or revoke phase of `leases` may take before the point fails. */
export function grantBudgetS(leases: number): number {
  assert.ok(leases >= 0, 'lease count must be >= 0');
  return leases / grantRateFloorPerS + grantSlackS;
}

/**
 * Seconds one round of one target may take beyond its server's start: the idle baseline, then per
 * L a grant, settle, idle window, warm-up and window, the streams' tail and a revoke.
 */
export function leaseRoundBudgetS(leaseCounts: readonly number[], p: LeaseParams, warmupS: number, durationS: number, requestTimeoutS: number): number {
  const perPoint = (l: number): number => 2 * grantBudgetS(l) + p.settleS + p.idleS + warmupS + durationS + requestTimeoutS + 15;
  return p.settleS + p.idleS + leaseCounts.reduce((s, l) => s + perPoint(l), 0);
}
