// The watcher side of the watch fan-out bench, run in a piscina load worker (entry
// `load-worker.mjs`, task name `fanout`). One task = one worker's share of the W watchers:
//
// 1. open them at a bounded rate (`openRatePerS`), at most `openInflightMax` connections awaiting
//    their `created` answers at once; each `created` is counted in the shared table, which is how
//    the main thread knows when to start the writer;
// 2. read every event: which put it is (the key's sequence number), whether this watcher saw it
//    before (duplicate) or saw a later revision first (reorder), and the time from the put's
//    acknowledgement (published by the main thread) to now. An event can arrive before the ack is
//    published; it waits in a bounded pending list and is resolved at the next poll;
// 3. once the writer is done, wait until every watcher has every acknowledged put, or the drain
//    time is over, then close everything and answer with the figures.
//
// Every wait is bounded: per-watcher open timeout, drain timeout, and a hard task deadline.

import assert from 'node:assert/strict';
import net from 'node:net';
import * as hdr from 'hdr-histogram-js';
import { WebSocket } from 'ws';
import { connectionSizes, FanoutShared, nowMs, Phase, seqOfKeyB64, watchCreateJson, WatcherLedger } from './fanout.js';
import { histogramHighestUs, newLatencyHistogram, Tally } from './load-worker.js';
import type { FanoutResult, FanoutTask } from './protocol.js';
import { HttpStreamDecoder, scanWatchMessage } from './watch-stream.js';

/** Connections of one worker waiting for their watches' `created` at once. */
const openInflightMax = 64;
/** How often the worker resolves pending latencies and looks at the phase. */
const pollIntervalMs = 10;
/** Events waiting for their put's acknowledgement, per worker; beyond, latency is not recorded. */
const pendingEventsMax = 1 << 20;
const labelCharsMax = 100;

/** One HTTP stream or WebSocket carrying `size` watches, numbered from `watcherBase`. */
interface Conn {
  readonly watcherBase: number;
  readonly size: number;
  /** Watches created so far; the next `created` answer belongs to watcher `watcherBase + created`. */
  created: number;
  /** The gateway's watch id (as written, '0' when absent) -> local watcher index. */
  readonly byId: Map<string, number>;
  closed: boolean;
  close(): void;
}

interface ConnHandlers {
  message(text: string): void;
  closed(why: string): void;
}

function openHttpConn(endpoint: string, h: ConnHandlers): () => void {
  const url = new URL(endpoint);
  const body = watchCreateJson();
  const socket = net.connect(Number(url.port), url.hostname);
  socket.setNoDelay(true);
  const decoder = new HttpStreamDecoder();
  socket.on('connect', () => {
    socket.write(`POST /v3/watch HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      const lines = decoder.push(chunk);
      if (decoder.status !== 200) {
        if (decoder.ended) socket.destroy(new Error(`HTTP ${decoder.status}: ${[...lines, decoder.rest()].join(' ').slice(0, labelCharsMax)}`));
        return;
      }
      for (const line of lines) h.message(line);
      if (decoder.ended) socket.destroy(new Error('stream ended'));
    } catch (err) {
      socket.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  });
  socket.on('error', (err: NodeJS.ErrnoException) => h.closed(err.code !== undefined ? `net ${err.code}` : err.message));
  socket.on('close', () => h.closed('connection closed'));
  return () => socket.destroy();
}

function openWsConn(endpoint: string, size: number, openTimeoutMs: number, h: ConnHandlers): () => void {
  const ws = new WebSocket(`${endpoint.replace(/^http/, 'ws')}/v3/watch`, { perMessageDeflate: false, handshakeTimeout: openTimeoutMs });
  const create = watchCreateJson();
  ws.on('open', () => {
    for (let i = 0; i < size; i++) ws.send(create);
  });
  ws.on('message', (data: Buffer) => h.message(data.toString('utf8')));
  ws.on('error', (err: NodeJS.ErrnoException) => h.closed(err.code !== undefined ? `ws ${err.code}` : `ws ${err.message}`));
  ws.on('close', (code: number) => h.closed(`ws closed ${code}`));
  return () => ws.terminate();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class FanoutWorker {
  private readonly shared: FanoutShared;
  private readonly ledger: WatcherLedger;
  private readonly histogram = newLatencyHistogram();
  private readonly fromSend = newLatencyHistogram();
  private readonly errors = new Tally();
  private readonly conns = new Set<Conn>();
  /** Connections still waiting for some `created`. */
  private openingNow = 0;
  private opened = 0;
  private windowEvents = 0;
  private totalEvents = 0;
  private beforeAck = 0;
  private duplicates = 0;
  private reordered = 0;
  private foreign = 0;
  /** Events whose put was not acknowledged yet: sequence and receipt time, in step. */
  private pendingSeq: number[] = [];
  private pendingRecvMs: number[] = [];

  constructor(private readonly task: FanoutTask) {
    this.shared = new FanoutShared(task.shared, task.seqMax);
    this.ledger = new WatcherLedger(task.watchers, task.seqMax);
  }

  /** Opens every connection at the paced rate; stops early if the point is aborted. */
  async openAll(): Promise<void> {
    const sizes = connectionSizes(this.task.watchers, this.task.transport, this.task.watchesPerSocket);
    const t0 = nowMs();
    let base = 0;
    for (const [i, size] of sizes.entries()) {
      while (this.openingNow >= openInflightMax && this.shared.phase() === Phase.opening && nowMs() < this.task.deadlineMs) await sleep(2);
      if (this.shared.phase() !== Phase.opening || nowMs() >= this.task.deadlineMs) return;
      const dueMs = t0 + (base / this.task.openRatePerS) * 1000;
      if (dueMs > nowMs()) await sleep(dueMs - nowMs());
      this.openConn(this.task.endpoints[(this.task.watcherIndexBase + i) % this.task.endpoints.length] ?? '', base, size);
      base += size;
    }
    assert.equal(base, this.task.watchers, 'every watcher has a connection');
  }

  private openConn(endpoint: string, watcherBase: number, size: number): void {
    const conn: Conn = { watcherBase, size, created: 0, byId: new Map(), closed: false, close: () => {} };
    this.conns.add(conn);
    this.openingNow++;
    const timer = setTimeout(() => this.dropConn(conn, 'open timeout'), this.task.openTimeoutMs);
    const handlers: ConnHandlers = {
      message: (text) => {
        this.onMessage(conn, text);
        if (conn.created === conn.size) clearTimeout(timer);
      },
      closed: (why) => {
        clearTimeout(timer);
        this.dropConn(conn, why);
      },
    };
    conn.close = this.task.transport === 'http' ? openHttpConn(endpoint, handlers) : openWsConn(endpoint, size, this.task.openTimeoutMs, handlers);
  }

  /** A connection ended (error, timeout, server): its unopened watches failed, the rest are lost. */
  private dropConn(conn: Conn, why: string): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.close();
    const phase = this.shared.phase();
    if (conn.created < conn.size) {
      this.openingNow--;
      this.shared.addOpenFailed(conn.size - conn.created);
      this.errors.add(`open failed: ${why}`.slice(0, labelCharsMax));
    }
    if (conn.created > 0 && phase !== Phase.abort) this.errors.add(`stream lost: ${why}`.slice(0, labelCharsMax));
  }

  private onMessage(conn: Conn, text: string): void {
    let msg;
    try {
      msg = scanWatchMessage(text);
    } catch (err) {
      this.errors.add(`bad message: ${err instanceof Error ? err.message : String(err)}`.slice(0, labelCharsMax));
      return;
    }
    if (msg.error !== undefined) this.errors.add(msg.error.slice(0, labelCharsMax));
    if (msg.created) {
      assert.ok(conn.created < conn.size, 'more created answers than watches asked for');
      conn.byId.set(msg.watchId, conn.watcherBase + conn.created);
      conn.created++;
      this.opened++;
      this.shared.addOpened(1);
      if (conn.created === conn.size) this.openingNow--;
    }
    if (msg.events.length === 0) return;
    const w = conn.byId.get(msg.watchId);
    if (w === undefined) {
      this.errors.add(`events for unknown watch id ${msg.watchId}`.slice(0, labelCharsMax));
      return;
    }
    const recvMs = nowMs();
    for (const ev of msg.events) this.onEvent(w, seqOfKeyB64(ev.keyB64), ev.modRevision, recvMs);
  }

  private onEvent(w: number, seq: number, modRevision: number, recvMs: number): void {
    this.totalEvents++;
    if (recvMs >= this.shared.windowStartMs() && recvMs < this.shared.windowEndMs()) this.windowEvents++;
    const verdict = this.ledger.record(w, seq, modRevision);
    if (verdict === 'foreign') this.foreign++;
    else if (verdict === 'duplicate') this.duplicates++;
    else {
      if (verdict === 'reordered') this.reordered++;
      if (this.shared.ackOf(seq) !== undefined) this.recordLatency(seq, recvMs);
      else if (this.pendingSeq.length < pendingEventsMax) {
        this.pendingSeq.push(seq);
        this.pendingRecvMs.push(recvMs);
      } else this.errors.add('latency not recorded: pending list full');
    }
  }

  /** Put `seq` is acknowledged: its ack and send times are in the shared table. */
  private recordLatency(seq: number, recvMs: number): void {
    const ackMs = this.shared.ackOf(seq) ?? Number.NaN;
    const sentMs = this.shared.sentOf(seq) ?? Number.NaN;
    assert.ok(sentMs <= ackMs, `put ${seq}: ack before send`);
    if (recvMs < ackMs) this.beforeAck++;
    if (ackMs < this.shared.windowStartMs() || ackMs >= this.shared.windowEndMs()) return;
    const us = (fromMs: number): number => Math.min(histogramHighestUs, Math.max(1, Math.round((recvMs - fromMs) * 1000)));
    this.histogram.recordValue(us(ackMs));
    this.fromSend.recordValue(us(sentMs));
  }

  /** Records the pending events whose put is acknowledged now; keeps the rest. */
  private resolvePending(): void {
    if (this.pendingSeq.length === 0) return;
    const seqs = this.pendingSeq;
    const recvs = this.pendingRecvMs;
    this.pendingSeq = [];
    this.pendingRecvMs = [];
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i] ?? -1;
      if (this.shared.ackOf(seq) !== undefined) this.recordLatency(seq, recvs[i] ?? 0);
      else {
        this.pendingSeq.push(seq);
        this.pendingRecvMs.push(recvs[i] ?? 0);
      }
    }
  }

  /** Polls until aborted, or the writer is done and everyone caught up, or time is up. */
  async untilDone(): Promise<number> {
    let writerDoneAtMs: number | undefined;
    let acked = 0;
    for (;;) {
      await sleep(pollIntervalMs);
      this.resolvePending();
      const phase = this.shared.phase();
      const now = nowMs();
      if (phase === Phase.abort || now >= this.task.deadlineMs) return 0;
      if (phase !== Phase.writerDone) continue;
      if (writerDoneAtMs === undefined) {
        writerDoneAtMs = now;
        const count = this.shared.seqCount();
        for (let s = 0; s < count; s++) if (this.shared.ackOf(s) !== undefined) acked++;
      }
      if (this.ledger.allSeen(acked) || now - writerDoneAtMs >= this.task.drainTimeoutMs) return now - writerDoneAtMs;
    }
  }

  result(drainMs: number): FanoutResult {
    for (const c of this.conns) {
      c.closed = true;
      c.close();
    }
    this.resolvePending();
    this.foreign += this.pendingSeq.length;
    const totals = this.ledger.totals(this.shared.seqCount(), (s) => this.shared.revOf(s));
    const histogramB64 = hdr.encodeIntoCompressedBase64(this.histogram);
    const fromSendHistogramB64 = hdr.encodeIntoCompressedBase64(this.fromSend);
    this.histogram.destroy();
    this.fromSend.destroy();
    return {
      histogramB64, fromSendHistogramB64, windowEvents: this.windowEvents, totalEvents: this.totalEvents, beforeAck: this.beforeAck,
      duplicates: this.duplicates, reordered: this.reordered, missed: totals.missed, undelivered: totals.undelivered,
      foreign: this.foreign, opened: this.opened, errors: this.errors.toRecord(), drainMs,
    };
  }
}

export default async function runFanout(task: FanoutTask): Promise<FanoutResult> {
  assert.ok(task.watchers >= 1 && task.endpoints.length >= 1, 'a fan-out task needs watchers and endpoints');
  assert.ok(task.openRatePerS > 0 && task.deadlineMs > nowMs(), 'a fan-out task needs a rate and a future deadline');
  const worker = new FanoutWorker(task);
  const opening = worker.openAll();
  const drainMs = await worker.untilDone();
  await opening;
  return worker.result(drainMs);
}
