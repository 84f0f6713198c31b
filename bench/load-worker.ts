// The load generator proper, run inside a piscina worker (entry: `load-worker.mjs`). One task =
// one worker's share of one run point: `task.clients` concurrent clients, each a loop of
// "ask the scenario for a request, send it, wait for the answer", one request in flight per
// client over its own keep-alive connection, until the end of the measurement window.
//
// Timing: latencies are `performance.now()` deltas in microseconds, recorded only for successful
// requests that complete inside the shared wall-clock window [measureStart, measureEnd); what
// completes before it is warm-up, and no request is started after it. Errors are counted by label
// (bounded number of labels) and never recorded as latencies.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { connectionFactory, NetError } from './http-client.js';
import type { HttpConnection } from './http-client.js';
import type { LoadResult, LoadTask } from './protocol.js';
import type { ClientScript } from './scenario.js';
import { loadScenario } from './scenario-loader.js';

/** Distinct error/outcome labels kept per worker; the rest are counted as `other`. */
const labelsMax = 32;
/** Error text kept in a label. */
const labelMessageCharsMax = 100;
/** Pause after a network error, so a dead server does not turn clients into busy loops. */
const errorBackoffMs = 20;
/** Latency range of the histogram: 1 µs .. 120 s, 3 significant digits. */
export const histogramHighestUs = 120_000_000;

export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: histogramHighestUs, numberOfSignificantValueDigits: 3 });
}

/** Counts by label, at most `labelsMax` distinct labels (the rest are `other`). */
export class Tally {
  private readonly counts: Record<string, number> = {};
  private size = 0;
  add(label: string): void {
    let key = label;
    if (!(key in this.counts)) {
      if (this.size >= labelsMax) key = 'other';
      else this.size++;
    }
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }
  toRecord(): Record<string, number> {
    return { ...this.counts };
  }
}

/** The label of a non-2xx answer: HTTP status, gRPC code and etcd's message when present. */
export function errorLabel(status: number, body: Buffer): string {
  let detail = '';
  try {
    const j = JSON.parse(body.toString('utf8')) as { code?: unknown; message?: unknown; error?: unknown };
    const msg = typeof j.message === 'string' ? j.message : typeof j.error === 'string' ? j.error : '';
    detail = ` grpc ${String(j.code ?? '?')}: ${msg.slice(0, labelMessageCharsMax)}`;
  } catch {
    detail = `: ${body.toString('utf8', 0, labelMessageCharsMax).replace(/\s+/g, ' ')}`;
  }
  return `HTTP ${status}${detail}`;
}

interface WorkerTally {
  readonly histogram: hdr.Histogram;
  readonly errors: Tally;
  readonly outcomes: Tally;
  ops: number;
  warmupOps: number;
}

async function runClient(task: LoadTask, script: ClientScript, conn: HttpConnection, t: WorkerTally): Promise<void> {
  const { measureStartEpochMs: start, measureEndEpochMs: end } = task;
  while (Date.now() < end) {
    const req = script.next();
    const t0 = performance.now();
    let label: string | undefined;
    let failed = false;
    try {
      const res = await conn.request(req);
      if (res.status < 200 || res.status > 299) {
        failed = true;
        label = errorLabel(res.status, res.body);
      } else if (script.check !== undefined) {
        try {
          label = script.check(res.body);
        } catch (err) {
          failed = true;
          label = `bad answer: ${err instanceof Error ? err.message : String(err)}`.slice(0, labelMessageCharsMax);
        }
      }
    } catch (err) {
      failed = true;
      label = err instanceof NetError ? `net ${err.code}` : `client ${String(err).slice(0, labelMessageCharsMax)}`;
    }
    const latencyUs = Math.max(1, Math.round((performance.now() - t0) * 1000));
    const doneMs = Date.now();
    if (doneMs < start) {
      if (!failed) t.warmupOps++;
    } else if (doneMs < end) {
      if (failed) t.errors.add(label ?? 'error');
      else {
        t.ops++;
        t.histogram.recordValue(Math.min(latencyUs, histogramHighestUs));
        if (label !== undefined) t.outcomes.add(label);
      }
    }
    if (failed && label?.startsWith('net ') === true) await new Promise((r) => setTimeout(r, errorBackoffMs));
  }
}

export default async function runLoad(task: LoadTask): Promise<LoadResult> {
  assert.ok(task.clients >= 1 && task.endpoints.length >= 1, 'a load task needs clients and endpoints');
  assert.ok(task.measureEndEpochMs > task.measureStartEpochMs, 'empty measurement window');
  const scenario = await loadScenario(task.scenario);
  const factory = connectionFactory(task.http, task.clients, task.requestTimeoutMs);
  const tally: WorkerTally = { histogram: newLatencyHistogram(), errors: new Tally(), outcomes: new Tally(), ops: 0, warmupOps: 0 };
  try {
    const loops = Array.from({ length: task.clients }, (_, i) => {
      const clientIndex = task.clientIndexBase + i;
      const script = scenario.createClient({ clientIndex, clientCount: task.clientCount, options: task.options });
      const conn = factory.open(task.endpoints[clientIndex % task.endpoints.length] ?? '');
      return runClient(task, script, conn, tally);
    });
    await Promise.all(loops);
  } finally {
    factory.closeAll();
  }
  const histogramB64 = hdr.encodeIntoCompressedBase64(tally.histogram);
  tally.histogram.destroy();
  return { histogramB64, ops: tally.ops, warmupOps: tally.warmupOps, errors: tally.errors.toRecord(), outcomes: tally.outcomes.toRecord() };
}

/** Warm-up task: loads the scenario module in this thread and answers the thread id. */
export async function ping(req: { scenario: string; holdMs: number }): Promise<number> {
  await loadScenario(req.scenario);
  await new Promise((r) => setTimeout(r, req.holdMs));
  return threadId;
}
