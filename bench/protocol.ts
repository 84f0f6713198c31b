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
