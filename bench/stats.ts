// Figures of a run point: merging the workers' latency histograms and counters, the summary
// (ops/s, p50, p90, p99, p99.9, max, errors by label) and the tetcd/etcd ratios. Pure functions
// over plain records, so `report.ts` and the tests use them without a pool or a server.

import assert from 'node:assert/strict';
import * as hdr from 'hdr-histogram-js';
import type { LoadResult } from './protocol.js';

export interface LatencySummaryUs {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** One measured point: one target, one client count, one round (or several rounds merged). */
export interface PointResult {
  readonly target: string;
  readonly clients: number;
  readonly threads: number;
  /** 1-based; 0 for a merge of all rounds. */
  readonly round: number;
  /** Sum of the measurement windows merged into this point. */
  readonly windowS: number;
  readonly ops: number;
  readonly opsPerS: number;
  readonly latencyUs: LatencySummaryUs;
  readonly errors: Record<string, number>;
  readonly errorCount: number;
  readonly outcomes: Record<string, number>;
  /** CPU cores used on average during the window by the bench process (the generator). */
  readonly generatorCpuCores: number | undefined;
  /** CPU cores used on average during the window by the server processes. */
  readonly serverCpuCores: number | undefined;
  /** The merged latency histogram (µs), hdr compressed base64, for later merges and analysis. */
  readonly histogramB64: string;
  /**
   * Watch fan-out points only: `clients` is then the number of watchers W, `ops` the events
   * received in the window and `latencyUs` put acknowledgement -> event receipt.
   */
  readonly fanout?: FanoutFigures;
}

/** The figures of a watch fan-out point beyond events/s and latency (see bench/README.md). */
export interface FanoutFigures {
  readonly transport: string;
  /** Watches per connection (1 for HTTP streams). */
  readonly watchesPerConn: number;
  /** Put sent -> event received (µs), for the same events as `latencyUs`, and its summary. */
  readonly fromSendHistogramB64: string;
  readonly fromSendUs: LatencySummaryUs;
  /** The writer's target rate and the rate it achieved (puts acknowledged in the window / window). */
  readonly putRatePerS: number;
  readonly putsAckedPerS: number;
  readonly putErrors: number;
  readonly totalEvents: number;
  readonly beforeAck: number;
  readonly duplicates: number;
  readonly reordered: number;
  readonly missed: number;
  readonly undelivered: number;
  readonly foreign: number;
  /** Seconds to open all W watchers (until the last `created`). */
  readonly openS: number;
  /** Server RSS (all members) before opening, once all were open, and at the end of the window. */
  readonly rssBeforeKiB: number;
  readonly rssOpenKiB: number;
  readonly rssEndKiB: number;
  /** (rssOpen - rssBefore) / W. */
  readonly rssPerWatcherBytes: number;
  /** Longest time a worker waited after the writer stopped for its watchers to catch up. */
  readonly drainMsMax: number;
}

/** Merges the fan-out figures of several rounds: counts add up, rates and memory average. */
export function mergeFanout(figs: readonly FanoutFigures[]): FanoutFigures {
  const first = figs[0];
  assert.ok(first !== undefined, 'no fan-out figures to merge');
  const sum = (f: (x: FanoutFigures) => number): number => figs.reduce((s, x) => s + f(x), 0);
  const mean = (f: (x: FanoutFigures) => number): number => sum(f) / figs.length;
  const fromSend = mergeHistograms(figs.map((x) => x.fromSendHistogramB64));
  return {
    transport: first.transport,
    watchesPerConn: first.watchesPerConn,
    fromSendHistogramB64: fromSend.b64,
    fromSendUs: fromSend.summary,
    putRatePerS: first.putRatePerS,
    putsAckedPerS: mean((x) => x.putsAckedPerS),
    putErrors: sum((x) => x.putErrors),
    totalEvents: sum((x) => x.totalEvents),
    beforeAck: sum((x) => x.beforeAck),
    duplicates: sum((x) => x.duplicates),
    reordered: sum((x) => x.reordered),
    missed: sum((x) => x.missed),
    undelivered: sum((x) => x.undelivered),
    foreign: sum((x) => x.foreign),
    openS: mean((x) => x.openS),
    rssBeforeKiB: mean((x) => x.rssBeforeKiB),
    rssOpenKiB: mean((x) => x.rssOpenKiB),
    rssEndKiB: mean((x) => x.rssEndKiB),
    rssPerWatcherBytes: mean((x) => x.rssPerWatcherBytes),
    drainMsMax: Math.max(...figs.map((x) => x.drainMsMax)),
  };
}

export function addCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}

function summarise(h: hdr.Histogram): LatencySummaryUs {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    mean: Math.round(h.mean),
  };
}

/** Merges compressed histograms; returns the merged one's summary, total count and encoding. */
export function mergeHistograms(encoded: readonly string[]): { summary: LatencySummaryUs; count: number; b64: string } {
  assert.ok(encoded.length >= 1, 'nothing to merge');
  const total = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  for (const e of encoded) {
    const h = hdr.decodeFromCompressedBase64(e);
    total.add(h);
    h.destroy();
  }
  const out = { summary: summarise(total), count: total.totalCount, b64: hdr.encodeIntoCompressedBase64(total) };
  total.destroy();
  return out;
}

export interface PointMeta {
  readonly target: string;
  readonly clients: number;
  readonly threads: number;
  readonly round: number;
  readonly windowS: number;
  readonly generatorCpuCores: number | undefined;
  readonly serverCpuCores: number | undefined;
}

/** The point of one round from the workers' results. */
export function pointFromWorkers(meta: PointMeta, results: readonly LoadResult[]): PointResult {
  assert.ok(meta.windowS > 0, 'a point needs a positive window');
  const merged = mergeHistograms(results.map((r) => r.histogramB64));
  const ops = results.reduce((s, r) => s + r.ops, 0);
  assert.equal(merged.count, ops, 'every successful op in the window has exactly one latency');
  const errors = results.reduce((acc, r) => addCounts(acc, r.errors), {} as Record<string, number>);
  return {
    ...meta,
    ops,
    opsPerS: ops / meta.windowS,
    latencyUs: merged.summary,
    errors,
    errorCount: Object.values(errors).reduce((s, n) => s + n, 0),
    outcomes: results.reduce((acc, r) => addCounts(acc, r.outcomes), {} as Record<string, number>),
    histogramB64: merged.b64,
  };
}

function meanDefined(xs: ReadonlyArray<number | undefined>): number | undefined {
  const ds = xs.filter((x): x is number => x !== undefined);
  return ds.length === 0 ? undefined : ds.reduce((s, x) => s + x, 0) / ds.length;
}

/** Merges the rounds of one target and client count: ops over summed windows, merged latencies. */
export function mergeRounds(points: readonly PointResult[]): PointResult {
  const first = points[0];
  assert.ok(first !== undefined, 'no rounds to merge');
  assert.ok(points.every((p) => p.target === first.target && p.clients === first.clients), 'merging unlike points');
  const merged = mergeHistograms(points.map((p) => p.histogramB64));
  const windowS = points.reduce((s, p) => s + p.windowS, 0);
  const ops = points.reduce((s, p) => s + p.ops, 0);
  const errors = points.reduce((acc, p) => addCounts(acc, p.errors), {} as Record<string, number>);
  return {
    target: first.target,
    clients: first.clients,
    threads: first.threads,
    round: 0,
    windowS,
    ops,
    opsPerS: ops / windowS,
    latencyUs: merged.summary,
    errors,
    errorCount: Object.values(errors).reduce((s, n) => s + n, 0),
    outcomes: points.reduce((acc, p) => addCounts(acc, p.outcomes), {} as Record<string, number>),
    generatorCpuCores: meanDefined(points.map((p) => p.generatorCpuCores)),
    serverCpuCores: meanDefined(points.map((p) => p.serverCpuCores)),
    histogramB64: merged.b64,
    ...(first.fanout === undefined ? {} : { fanout: mergeFanout(points.map((p) => p.fanout).filter((f): f is FanoutFigures => f !== undefined)) }),
  };
}

export interface Ratios {
  readonly clients: number;
  readonly opsPerS: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  /** Fan-out points: server memory per watcher, tetcd/etcd. */
  readonly rssPerWatcher?: number;
}

/** tetcd/etcd for each figure (> 1 means tetcd is higher: better for ops/s, worse for latency). */
export function ratios(tetcd: PointResult, etcd: PointResult): Ratios {
  assert.equal(tetcd.clients, etcd.clients, 'ratios of unlike points');
  const r = (a: number, b: number): number => (b === 0 ? Number.NaN : a / b);
  return {
    clients: tetcd.clients,
    opsPerS: r(tetcd.opsPerS, etcd.opsPerS),
    p50: r(tetcd.latencyUs.p50, etcd.latencyUs.p50),
    p90: r(tetcd.latencyUs.p90, etcd.latencyUs.p90),
    p99: r(tetcd.latencyUs.p99, etcd.latencyUs.p99),
    p999: r(tetcd.latencyUs.p999, etcd.latencyUs.p999),
    max: r(tetcd.latencyUs.max, etcd.latencyUs.max),
    ...(tetcd.fanout === undefined || etcd.fanout === undefined ? {} : { rssPerWatcher: r(tetcd.fanout.rssPerWatcherBytes, etcd.fanout.rssPerWatcherBytes) }),
  };
}
