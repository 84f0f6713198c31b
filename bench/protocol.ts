// The messages between the bench's main thread and its piscina load workers: one `LoadTask` per
// worker per run point, one `LoadResult` back. Plain records, so they cross the thread boundary
// by structured clone; the latency histogram travels as hdr-histogram's compressed base64.

import type { HttpClientKind } from './http-client.js';
import type { ScenarioOptions } from './scenario.js';

export interface LoadTask {
  readonly scenario: string;
  readonly endpoints: readonly string[];
  /** Clients this worker runs. */
  readonly clients: number;
  /** Global index of this worker's first client (clients of a point are numbered 0..N-1). */
  readonly clientIndexBase: number;
  readonly clientCount: number;
  readonly options: ScenarioOptions;
  /**
   * Wall-clock window (Date.now() ms, shared by all threads) in which completed requests count.
   * Clients start on receipt of the task; everything before the window is warm-up.
   */
  readonly measureStartEpochMs: number;
  readonly measureEndEpochMs: number;
  readonly http: HttpClientKind;
  readonly requestTimeoutMs: number;
}

export interface LoadResult {
  /** Latencies in microseconds of successful requests completed in the window. */
  readonly histogramB64: string;
  /** Successful requests completed in the window (including labelled outcomes). */
  readonly ops: number;
  /** Successful requests completed during warm-up (a sanity figure). */
  readonly warmupOps: number;
  /** Failed requests in the window, by label (`HTTP 429 grpc 8: ...`, `net ECONNRESET`). */
  readonly errors: Record<string, number>;
  /** Noteworthy successful outcomes in the window, by label (`cas-conflict`). */
  readonly outcomes: Record<string, number>;
}

/**
 * One worker's share of a watch fan-out point: open `watchers` watchers on the writer's prefix,
 * report each opened watcher through `shared`, record every event until the main thread says the
 * writer is done and every watcher has caught up (or the drain time is over), then answer.
 */
export interface FanoutTask {
  readonly endpoints: readonly string[];
  readonly transport: 'http' | 'ws';
  readonly watchers: number;
  /** Global index of this worker's first watcher (watchers of a point are numbered 0..W-1). */
  readonly watcherIndexBase: number;
  /** WebSocket only: watches created on one socket (HTTP streams carry one each). */
  readonly watchesPerSocket: number;
  /** This worker's share of the opening rate, watchers per second. */
  readonly openRatePerS: number;
  /** A watcher not `created` within this time counts as failed to open. */
  readonly openTimeoutMs: number;
  /** After the writer is done, how long watchers may take to receive the last puts. */
  readonly drainTimeoutMs: number;
  /** Hard end of the task (nowMs() clock): the worker answers by then whatever happens. */
  readonly deadlineMs: number;
  readonly shared: { readonly control: SharedArrayBuffer; readonly acks: SharedArrayBuffer };
  readonly seqMax: number;
}

export interface FanoutResult {
  /** Latencies (µs) from put acknowledgement to event receipt, for puts acknowledged in the window. */
  readonly histogramB64: string;
  /** The same events' latencies (µs) from the put's sending: always positive, includes the commit. */
  readonly fromSendHistogramB64: string;
  /** Events received inside the window (the events/s figure). */
  readonly windowEvents: number;
  /** Events received in the whole run (warm-up, window and drain). */
  readonly totalEvents: number;
  /** Events received before their put's acknowledgement reached the bench (latency recorded as 0). */
  readonly beforeAck: number;
  readonly duplicates: number;
  readonly reordered: number;
  /** Acknowledged puts that a watcher skipped although it received a later revision. */
  readonly missed: number;
  /** Acknowledged puts not received by the end of the drain (the watcher lags behind). */
  readonly undelivered: number;
  /** Events of keys the writer did not acknowledge or did not write. */
  readonly foreign: number;
  readonly opened: number;
  /** Failures by label: open failures, stream errors, cancels. */
  readonly errors: Record<string, number>;
  /** From the writer's end until every watcher of this worker had everything (or the drain ended). */
  readonly drainMs: number;
}
