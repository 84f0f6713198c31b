// The keep-alive load of the lease scenario: S long-lived keep-alive streams, each renewing its own
// share of the granted leases as fast as the server answers, with at most `window` keep-alives in
// flight per stream (1 by default: the next is sent when the answer arrives). Runs in the bench's
// main thread (a keep-alive is ~40 bytes out and ~170 in, so one thread keeps up with the server
// on a small machine; `bench CPU` in the results shows when it does not).
//
// Transports, the same for both servers: `http` is one `POST /v3/lease/keepalive` per stream with
// a chunked request body held open (one JSON request per chunk) and answers read as lines of the
// chunked response; `ws` is the same path over WebSocket, one request per frame. Both servers
// answer a stream's keep-alives in request order, so each stream keeps a FIFO of send times.
//
// Timing: latency = send -> answer (performance.now()), recorded for answers that arrive inside
// [startMs, endMs); earlier ones are warm-up; no keep-alive is sent after endMs, and the answers
// still in flight then are awaited (at most the request timeout) and not counted. A stream that
// fails (closed, an error line, a timed-out keep-alive) is counted and reopened after a pause, at
// most `restartsMax` times.

import assert from 'node:assert/strict';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { WebSocket } from 'ws';
import { keepAliveChunk, keepAliveHead, keepAliveJson, leaseIndexOf, scanKeepAliveAnswer, skipInterimHeads, streamCount } from './lease.js';
import { histogramHighestUs, newLatencyHistogram, Tally } from './load-worker.js';
import { HttpStreamDecoder } from './watch-stream.js';

/** Times one stream is reopened after failing before it gives up. */
export const restartsMax = 100;
/** Pause before reopening a failed stream, so a dead server does not become a busy loop. */
const reopenBackoffMs = 50;
/** How often in-flight keep-alives are checked against the request timeout. */
const timeoutCheckIntervalMs = 100;
/** Error text kept in a label. */
const labelCharsMax = 100;

export interface KeepAliveSpec {
  readonly endpoints: readonly string[];
  readonly transport: 'http' | 'ws';
  readonly streams: number;
  readonly window: number;
  /** The granted lease IDs (decimal strings, as the grant answered them). */
  readonly leaseIds: readonly string[];
  /** The measured window, performance.now() ms. */
  readonly startMs: number;
  readonly endMs: number;
  readonly requestTimeoutMs: number;
}

export interface KeepAliveResult {
  readonly histogramB64: string;
  /** Keep-alives answered with TTL > 0 for the right lease, inside the window. */
  readonly ops: number;
  readonly warmupOps: number;
  /** Answered keep-alives in the whole run, whatever the outcome. */
  readonly answered: number;
  /** Answers with TTL 0 (the server no longer knows the lease), in the whole run. */
  readonly expired: number;
  readonly restarts: number;
  /** Failures inside the window, by label. */
  readonly errors: Record<string, number>;
}

interface Tallies {
  readonly histogram: hdr.Histogram;
  readonly errors: Tally;
  ops: number;
  warmupOps: number;
  answered: number;
  expired: number;
  restarts: number;
}

/** One open transport: `send` one request, `close` it; it calls back with answers and its end. */
interface Channel {
  send(id: string): void;
  /** Ends the request side politely (HTTP: the last chunk) and closes. */
  close(): void;
}

interface ChannelEvents {
  ready(): void;
  answer(text: string): void;
  closed(why: string): void;
}

function openHttp(endpoint: string, ev: ChannelEvents): Channel {
  const url = new URL(endpoint);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.setNoDelay(true);
  const decoder = new HttpStreamDecoder();
  let head: Buffer | undefined = Buffer.alloc(0);
  socket.on('connect', () => {
    socket.write(keepAliveHead(url.host));
    ev.ready();
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      let bytes = chunk;
      if (head !== undefined) {
        const s = skipInterimHeads(Buffer.concat([head, chunk]));
        head = s.waiting ? s.rest : undefined;
        if (s.waiting) return;
        bytes = s.rest;
      }
      const lines = decoder.push(bytes);
      if (decoder.status !== 200) {
        if (decoder.ended) socket.destroy(new Error(`HTTP ${decoder.status}: ${[...lines, decoder.rest()].join(' ').slice(0, labelCharsMax)}`));
        return;
      }
      for (const line of lines) ev.answer(line);
      if (decoder.ended) socket.destroy(new Error('stream ended by the server'));
    } catch (err) {
      socket.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  });
  socket.on('error', (err: NodeJS.ErrnoException) => ev.closed(err.code !== undefined ? `net ${err.code}` : err.message));
  socket.on('close', () => ev.closed('connection closed'));
  return {
    send: (id) => { socket.write(keepAliveChunk(id)); },
    close: () => {
      // Ours from here on: no more answers or ends reach the stream, which may already have reopened.
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.end('0\r\n\r\n');
      setTimeout(() => socket.destroy(), 1_000).unref();
    },
  };
}

function openWs(endpoint: string, timeoutMs: number, ev: ChannelEvents): Channel {
  const ws = new WebSocket(`${endpoint.replace(/^http/, 'ws')}/v3/lease/keepalive`, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
  ws.on('open', () => ev.ready());
  ws.on('message', (data: Buffer) => ev.answer(data.toString('utf8')));
  ws.on('error', (err: NodeJS.ErrnoException) => ev.closed(err.code !== undefined ? `net ${err.code}` : err.message));
  ws.on('close', (code: number) => ev.closed(`websocket closed (${code})`));
  return {
    send: (id) => ws.send(keepAliveJson(id)),
    close: () => {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.close();
      setTimeout(() => ws.terminate(), 1_000).unref();
    },
  };
}

/** One stream: renews leases leaseIndexOf(index, 0), (index, 1)... until the window ends. */
class KeepAliveStream {
  /** Send times (performance.now() ms) and lease IDs of the keep-alives in flight, oldest first; at most `window`. */
  private readonly inflight: Array<{ atMs: number; id: string }> = [];
  private channel: Channel | undefined;
  private ready = false;
  /** Keep-alives sent so far by this stream (k of leaseIndexOf). */
  private sent = 0;
  private restarts = 0;
  private done = false;
  private resolveDone: () => void = () => {};
  readonly finished = new Promise<void>((r) => { this.resolveDone = r; });

  constructor(private readonly index: number, private readonly streams: number, private readonly spec: KeepAliveSpec, private readonly t: Tallies) {}

  open(): void {
    assert.ok(this.channel === undefined && !this.done, 'one channel at a time');
    const endpoint = this.spec.endpoints[this.index % this.spec.endpoints.length] ?? '';
    const ev: ChannelEvents = {
      ready: () => { this.ready = true; this.fill(); },
      answer: (text) => this.onAnswer(text),
      closed: (why) => this.fail(why),
    };
    this.channel = this.spec.transport === 'http' ? openHttp(endpoint, ev) : openWs(endpoint, this.spec.requestTimeoutMs, ev);
  }

  private fill(): void {
    while (this.ready && this.inflight.length < this.spec.window && performance.now() < this.spec.endMs) {
      const id = this.spec.leaseIds[leaseIndexOf(this.index, this.sent, this.spec.leaseIds.length, this.streams)];
      assert.ok(id !== undefined, 'every lease index has an ID');
      this.sent++;
      this.inflight.push({ atMs: performance.now(), id });
      this.channel?.send(id);
    }
    if (this.inflight.length === 0 && performance.now() >= this.spec.endMs) this.finish();
  }

  /** Counts an outcome by when it completed: warm-up, window (errors labelled) or after. */
  private count(nowMs: number, failure: string | undefined, latencyUs: number): void {
    if (nowMs < this.spec.startMs) {
      if (failure === undefined) this.t.warmupOps++;
    } else if (nowMs < this.spec.endMs) {
      if (failure !== undefined) this.t.errors.add(failure);
      else {
        this.t.ops++;
        this.t.histogram.recordValue(Math.min(Math.max(1, latencyUs), histogramHighestUs));
      }
    }
  }

  private onAnswer(text: string): void {
    const nowMs = performance.now();
    const sentAt = this.inflight.shift();
    let failure: string | undefined;
    try {
      const a = scanKeepAliveAnswer(text);
      if (a.kind === 'error') {
        this.fail(`stream error: ${a.message}`.slice(0, labelCharsMax), sentAt);
        return;
      }
      this.t.answered++;
      if (sentAt === undefined) failure = 'answer with no keep-alive in flight';
      else if (a.id !== sentAt.id) failure = 'answer for another lease';
      else if (a.ttlS <= 0) {
        failure = 'lease not found (TTL 0: expired or revoked)';
        this.t.expired++;
      }
    } catch (err) {
      failure = `bad answer: ${err instanceof Error ? err.message : String(err)}`.slice(0, labelCharsMax);
    }
    this.count(nowMs, failure, Math.round((nowMs - (sentAt?.atMs ?? nowMs)) * 1000));
    this.fill();
  }

  /** The head of the FIFO has waited longer than the request timeout: the stream is stuck. */
  checkTimeout(nowMs: number): void {
    const head = this.inflight[0];
    if (!this.done && head !== undefined && nowMs - head.atMs > this.spec.requestTimeoutMs) this.fail('net timeout');
  }

  /** The stream failed: count it (with its keep-alives in flight), reopen unless the run is over. */
  private fail(why: string, alsoLost?: { atMs: number; id: string }): void {
    if (this.done) return;
    const nowMs = performance.now();
    const lost = this.inflight.length + (alsoLost === undefined ? 0 : 1);
    this.count(nowMs, why, 0);
    for (let i = 1; i < lost; i++) this.count(nowMs, `keep-alive lost with its stream (${why})`.slice(0, labelCharsMax), 0);
    this.inflight.length = 0;
    this.channel?.close();
    this.channel = undefined;
    this.ready = false;
    if (nowMs >= this.spec.endMs || this.restarts >= restartsMax) {
      this.finish();
      return;
    }
    this.restarts++;
    this.t.restarts++;
    setTimeout(() => { if (!this.done) this.open(); }, reopenBackoffMs);
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.channel?.close();
    this.channel = undefined;
    this.resolveDone();
  }
}

/** Runs the keep-alive load of one point and answers its figures. */
export async function runKeepAlives(spec: KeepAliveSpec): Promise<KeepAliveResult> {
  assert.ok(spec.leaseIds.length >= 1 && spec.endpoints.length >= 1, 'keep-alives need leases and an endpoint');
  assert.ok(spec.endMs > spec.startMs && spec.window >= 1, 'a window and at least one keep-alive in flight');
  const t: Tallies = { histogram: newLatencyHistogram(), errors: new Tally(), ops: 0, warmupOps: 0, answered: 0, expired: 0, restarts: 0 };
  const n = streamCount(spec.leaseIds.length, spec.streams);
  const streams = Array.from({ length: n }, (_, i) => new KeepAliveStream(i, n, spec, t));
  const timer = setInterval(() => {
    const now = performance.now();
    for (const s of streams) s.checkTimeout(now);
  }, timeoutCheckIntervalMs);
  // Whatever happens, every stream is over by the window's end plus one timeout.
  const hardStop = setTimeout(() => { for (const s of streams) s.finish(); }, spec.endMs - performance.now() + spec.requestTimeoutMs + 1_000);
  try {
    for (const s of streams) s.open();
    await Promise.all(streams.map((s) => s.finished));
  } finally {
    clearInterval(timer);
    clearTimeout(hardStop);
  }
  const histogramB64 = hdr.encodeIntoCompressedBase64(t.histogram);
  assert.equal(t.histogram.totalCount, t.ops, 'every keep-alive counted in the window has one latency');
  t.histogram.destroy();
  return { histogramB64, ops: t.ops, warmupOps: t.warmupOps, answered: t.answered, expired: t.expired, restarts: t.restarts, errors: t.errors.toRecord() };
}
