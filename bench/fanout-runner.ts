// The main-thread side of one watch fan-out point (`npm run bench -- watch --watchers W ...`):
//
// 1. read the server's RSS, then hand every load worker its share of the W watchers (piscina
//    task `fanout`, see fanout-worker.ts) and wait, bounded, until all W are `created`; a target
//    that cannot open them all (refused, timed out, canceled) fails the point with the reason;
// 2. read the RSS again: (after - before) / W is the server's memory per watcher;
// 3. set the window (warm-up, then the measured duration) and run the writer here: one put of a
//    new key under the prefix every 1/rate s, at most `writerInflightMax` in flight, each put's
//    acknowledgement time and revision published in the shared table for the workers;
// 4. tell the workers the writer is done and how many puts it sent; they drain and answer;
//    their figures are merged into one PointResult (events/s, latency, missed, duplicates, ...).

import assert from 'node:assert/strict';
import type { Piscina } from 'piscina';
import { FanoutShared, nowMs, watchKeyOfSeq, WatcherLedger } from './fanout.js';
import type { Transport } from './fanout.js';
import { RawConnection } from './http-client.js';
import type { FanoutResult, FanoutTask } from './protocol.js';
import { sampleCpuOverWindow, splitClients } from './runner.js';
import { b64, valueB64 } from './scenario.js';
import { processRssKiB } from './servers.js';
import { addCounts, mergeHistograms } from './stats.js';
import type { PointResult } from './stats.js';

/** Puts of the writer in flight at once (each on its own connection). */
export const writerInflightMax = 8;
/** A watcher not `created` within this time has failed to open. */
const watcherOpenTimeoutMs = 30_000;
/** Beyond W / open rate, the time all watchers get to open. */
const openSlackMs = 30_000;
/** Pause after the last `created` before the RSS is read, for the server's buffers to settle. */
const rssSettleMs = 1_000;
const pollIntervalMs = 20;
/** The ledgers of all workers together (one bit per watcher and put) stay below this. */
export const ledgerBytesMax = 512 * 1024 * 1024;

export interface FanoutSpec {
  readonly target: string;
  readonly round: number;
  readonly endpoints: readonly string[];
  readonly serverPids: readonly number[];
  readonly watchers: number;
  readonly threads: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly transport: Transport;
  readonly ratePerS: number;
  readonly watchesPerSocket: number;
  readonly openRatePerS: number;
  readonly drainMs: number;
  readonly requestTimeoutMs: number;
  readonly valueBytes: number;
}

/** Puts the writer may send in a point: the rate over warm-up and window, plus the in-flight ones. */
export function seqCapacity(ratePerS: number, warmupMs: number, durationMs: number): number {
  assert.ok(ratePerS > 0 && durationMs > 0 && warmupMs >= 0, 'rate and duration must be positive');
  return Math.ceil((ratePerS * (warmupMs + durationMs)) / 1000) + writerInflightMax + 1;
}

/** The worst case of the fan-out bench's bookkeeping, checked before anything starts. */
export function ledgerBytes(watchers: number, ratePerS: number, warmupMs: number, durationMs: number): number {
  return WatcherLedger.bytesFor(watchers, seqCapacity(ratePerS, warmupMs, durationMs));
}

function serverRssKiB(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += processRssKiB(pid) ?? Number.NaN;
  return pids.length === 0 ? Number.NaN : total;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface WriterResult {
  /** Puts sent (sequence numbers 0..sent-1). */
  readonly sent: number;
  readonly ackedInWindow: number;
  readonly errors: Record<string, number>;
}

/** The writer: put seq at t0 + seq/rate until the window ends, at most writerInflightMax at once. */
export async function runWriter(endpoint: string, shared: FanoutShared, ratePerS: number, valueBytes: number, requestTimeoutMs: number): Promise<WriterResult> {
  const free = Array.from({ length: writerInflightMax }, () => new RawConnection(endpoint, requestTimeoutMs));
  const waiters: Array<() => void> = [];
  const errors: Record<string, number> = {};
  const value = valueB64(valueBytes, 7);
  const inflight = new Set<Promise<void>>();
  let ackedInWindow = 0;
  const put = async (conn: RawConnection, seq: number): Promise<void> => {
    try {
      shared.recordSent(seq, nowMs());
      const res = await conn.request({ method: 'POST', path: '/v3/kv/put', body: `{"key":"${b64(watchKeyOfSeq(seq))}","value":"${value}"}` });
      const atMs = nowMs();
      const rev = res.status === 200 ? Number((JSON.parse(res.body.toString('utf8')) as { header?: { revision?: string } }).header?.revision) : Number.NaN;
      if (Number.isFinite(rev) && rev > 0) {
        shared.recordAck(seq, atMs, rev);
        if (atMs >= shared.windowStartMs() && atMs < shared.windowEndMs()) ackedInWindow++;
      } else addCounts(errors, { [`put: HTTP ${res.status} ${res.body.toString('utf8', 0, 80)}`]: 1 });
    } catch (err) {
      addCounts(errors, { [`put: ${err instanceof Error ? err.message.slice(0, 80) : String(err)}`]: 1 });
    } finally {
      free.push(conn);
      waiters.shift()?.();
    }
  };
  const t0 = nowMs();
  let seq = 0;
  for (; seq < shared.seqMax; seq++) {
    // A writer that fell behind (slow answers) sends as soon as it can, but never past the window.
    const dueMs = t0 + (seq * 1000) / ratePerS;
    if (dueMs >= shared.windowEndMs()) break;
    if (dueMs > nowMs()) await sleep(dueMs - nowMs());
    while (free.length === 0) await new Promise<void>((r) => waiters.push(r));
    if (nowMs() >= shared.windowEndMs()) break;
    const p = put(free.pop()!, seq);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }
  await Promise.all([...inflight]);
  for (const c of free) c.close();
  assert.equal(free.length, writerInflightMax, 'every writer connection came back');
  return { sent: seq, ackedInWindow, errors };
}

/** Waits until all W watchers are created, or one failed, or the open budget is spent. */
async function awaitOpened(shared: FanoutShared, spec: FanoutSpec, crashed: () => unknown): Promise<string | undefined> {
  const deadline = nowMs() + (spec.watchers / spec.openRatePerS) * 1000 + openSlackMs;
  for (;;) {
    const opened = shared.opened();
    const failed = shared.openFailed();
    if (opened === spec.watchers) return undefined;
    if (failed > 0 || crashed() !== undefined || nowMs() >= deadline) {
      // Give the other opens in flight a moment, so the report says how far it got.
      await sleep(Math.min(2_000, watcherOpenTimeoutMs));
      const budgetS = Math.round(spec.watchers / spec.openRatePerS + openSlackMs / 1000);
      const why = crashed() !== undefined ? `a load worker failed: ${String(crashed())}` : failed > 0 ? 'opens failed' : `not all open within ${budgetS} s`;
      return `could not hold ${spec.watchers} ${spec.transport} watchers: ${shared.opened()} opened, ${shared.openFailed()} failed (${why})`;
    }
    await sleep(pollIntervalMs);
  }
}

function dispatch(pool: Piscina, spec: FanoutSpec, shared: FanoutShared, deadlineMs: number): Array<Promise<FanoutResult>> {
  const shares = splitClients(spec.watchers, spec.threads);
  let base = 0;
  return shares.map((watchers) => {
    const task: FanoutTask = {
      endpoints: spec.endpoints, transport: spec.transport, watchers, watcherIndexBase: base,
      watchesPerSocket: spec.watchesPerSocket, openRatePerS: (spec.openRatePerS * watchers) / spec.watchers,
      openTimeoutMs: watcherOpenTimeoutMs, drainTimeoutMs: spec.drainMs, deadlineMs, shared: shared.buffers, seqMax: shared.seqMax,
    };
    base += watchers;
    return pool.run(task, { name: 'fanout', signal: AbortSignal.timeout(Math.ceil(deadlineMs - nowMs()) + 30_000) }) as Promise<FanoutResult>;
  });
}

export async function runFanoutPoint(pool: Piscina, spec: FanoutSpec): Promise<PointResult> {
  assert.ok(spec.watchers >= 1 && spec.threads >= 1, 'a fan-out point needs watchers and threads');
  assert.ok(ledgerBytes(spec.watchers, spec.ratePerS, spec.warmupMs, spec.durationMs) <= ledgerBytesMax, 'ledger over its bound (options should have refused)');
  const shared = FanoutShared.create(seqCapacity(spec.ratePerS, spec.warmupMs, spec.durationMs));
  const rssBeforeKiB = serverRssKiB(spec.serverPids);
  const openBudgetMs = (spec.watchers / spec.openRatePerS) * 1000 + openSlackMs;
  const deadlineMs = nowMs() + openBudgetMs + rssSettleMs + spec.warmupMs + spec.durationMs + spec.requestTimeoutMs + spec.drainMs + 5_000;
  const openStartMs = nowMs();
  let crash: unknown;
  const all = Promise.all(dispatch(pool, spec, shared, deadlineMs));
  all.catch((err: unknown) => { crash = err ?? 'unknown error'; });
  const openFailure = await awaitOpened(shared, spec, () => crash);
  if (openFailure !== undefined) {
    shared.abort();
    const errors = await all.then((rs) => rs.reduce((acc, r) => addCounts(acc, r.errors), {} as Record<string, number>), () => ({}));
    throw new Error(`${openFailure}; ${Object.entries(errors).map(([k, n]) => `${n} × ${k}`).join('; ')}`);
  }
  const openS = (nowMs() - openStartMs) / 1000;
  await sleep(rssSettleMs);
  const rssOpenKiB = serverRssKiB(spec.serverPids);
  const startMs = nowMs() + spec.warmupMs;
  shared.start(startMs, startMs + spec.durationMs);
  const cpu = sampleCpuOverWindow(Date.now() + spec.warmupMs, Date.now() + spec.warmupMs + spec.durationMs, spec.serverPids);
  const writer = await runWriter(spec.endpoints[0] ?? '', shared, spec.ratePerS, spec.valueBytes, spec.requestTimeoutMs);
  const rssEndKiB = serverRssKiB(spec.serverPids);
  shared.finishWriter(writer.sent);
  const results = await all;
  const used = await cpu;
  return fanoutPoint(spec, results, writer, { openS, rssBeforeKiB, rssOpenKiB, rssEndKiB, generatorCpuCores: used.generator, serverCpuCores: used.server });
}

interface Measured {
  readonly openS: number;
  readonly rssBeforeKiB: number;
  readonly rssOpenKiB: number;
  readonly rssEndKiB: number;
  readonly generatorCpuCores: number | undefined;
  readonly serverCpuCores: number | undefined;
}

/** One round's point from the workers' results, the writer's and the main thread's measurements. */
export function fanoutPoint(spec: FanoutSpec, results: readonly FanoutResult[], writer: WriterResult, m: Measured): PointResult {
  const merged = mergeHistograms(results.map((r) => r.histogramB64));
  const fromSend = mergeHistograms(results.map((r) => r.fromSendHistogramB64));
  const sum = (f: (r: FanoutResult) => number): number => results.reduce((s, r) => s + f(r), 0);
  const errors = results.reduce((acc, r) => addCounts(acc, r.errors), { ...writer.errors });
  const windowS = spec.durationMs / 1000;
  const beforeAck = sum((r) => r.beforeAck);
  return {
    target: spec.target, clients: spec.watchers, threads: results.length, round: spec.round, windowS,
    ops: sum((r) => r.windowEvents), opsPerS: sum((r) => r.windowEvents) / windowS, latencyUs: merged.summary,
    errors, errorCount: Object.values(errors).reduce((s, n) => s + n, 0),
    outcomes: beforeAck > 0 ? { 'event before put ack (latency 0)': beforeAck } : {},
    generatorCpuCores: m.generatorCpuCores, serverCpuCores: m.serverCpuCores, histogramB64: merged.b64,
    fanout: {
      transport: spec.transport, watchesPerConn: spec.transport === 'http' ? 1 : Math.min(spec.watchesPerSocket, spec.watchers),
      fromSendHistogramB64: fromSend.b64, fromSendUs: fromSend.summary,
      putRatePerS: spec.ratePerS, putsAckedPerS: writer.ackedInWindow / windowS,
      putErrors: Object.values(writer.errors).reduce((s, n) => s + n, 0),
      totalEvents: sum((r) => r.totalEvents), beforeAck, duplicates: sum((r) => r.duplicates), reordered: sum((r) => r.reordered),
      missed: sum((r) => r.missed), undelivered: sum((r) => r.undelivered), foreign: sum((r) => r.foreign),
      openS: m.openS, rssBeforeKiB: m.rssBeforeKiB, rssOpenKiB: m.rssOpenKiB, rssEndKiB: m.rssEndKiB,
      rssPerWatcherBytes: ((m.rssOpenKiB - m.rssBeforeKiB) * 1024) / spec.watchers,
      drainMsMax: Math.max(0, ...results.map((r) => r.drainMs)),
    },
  };
}
