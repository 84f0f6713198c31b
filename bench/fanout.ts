// The pure parts of the watch fan-out bench (`npm run bench -- watch ...`), shared by the main
// thread (the writer) and the load workers (the watchers):
//
// - the keys the writer puts (`bench/watch/<seq>`, so an event names the put it comes from);
// - `FanoutShared`: the SharedArrayBuffer table through which the main thread tells the workers
//   the phase and the measurement window, and publishes every put's acknowledgement time and
//   revision, so a worker that receives an event can compute "put acknowledged -> event received";
// - `HttpStreamDecoder`: the response of `POST /v3/watch` (head, then a chunked body of
//   `{"result": ...}` lines) turned into lines as bytes arrive;
// - `scanWatchMessage`: one `{"result": WatchResponse}` read cheaply (event messages are scanned
//   with indexOf, not parsed: at 10,000 watchers the generator reads hundreds of thousands a second);
// - `WatcherLedger`: per watcher, which puts it has seen, to count duplicates, reorders, gaps
//   (missed) and events still undelivered when the run ends.
//
// Clocks: every time here is `performance.timeOrigin + performance.now()` in ms, a high-resolution
// wall clock that agrees across the threads of one machine.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';

/** The prefix all watchers watch; the writer's keys are the prefix + an 8-digit sequence number. */
export const WATCH_PREFIX = 'bench/watch/';
/** `WATCH_PREFIX` is 12 bytes, so its base64 is 16 characters and keys' base64 share them. */
const prefixB64 = Buffer.from(WATCH_PREFIX).toString('base64');
/** The writer's sequence numbers stay below this (8 digits in the key). */
export const seqLimit = 1e8;

export type Transport = 'http' | 'ws';

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function watchKeyOfSeq(seq: number): string {
  assert.ok(Number.isInteger(seq) && seq >= 0 && seq < seqLimit, `sequence out of range: ${seq}`);
  return `${WATCH_PREFIX}${String(seq).padStart(8, '0')}`;
}

/** The sequence number in a base64 event key, or -1 if the key is not one of the writer's. */
export function seqOfKeyB64(keyB64: string): number {
  if (!keyB64.startsWith(prefixB64)) return -1;
  const rest = Buffer.from(keyB64.slice(prefixB64.length), 'base64').toString('latin1');
  if (rest.length !== 8 || !/^\d{8}$/.test(rest)) return -1;
  return Number(rest);
}

/** The `create_request` that every watcher sends: the whole prefix, from now on. */
export function watchCreateJson(): string {
  const end = Buffer.from(WATCH_PREFIX);
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  return `{"create_request":{"key":"${prefixB64}","range_end":"${end.toString('base64')}"}}`;
}

// ---- the shared table ----

/** Phases the main thread moves through; workers only read them. */
export const Phase = { opening: 0, running: 1, writerDone: 2, abort: 3 } as const;

const ctl = { phase: 0, opened: 1, openFailed: 2, seqCount: 3 } as const;
const ctlInts = 4;
const win = { startMs: 0, endMs: 1 } as const;

/**
 * Shared between the main thread and the workers. Invariant: `acked[s] === 1` is stored (with
 * Atomics, after `ackMs[s]` and `rev[s]`) only once put `s` has been acknowledged, so a reader that
 * sees the flag also sees the time and revision. The window is written before the phase becomes
 * `running`, the final `seqCount` before it becomes `writerDone`.
 */
export class FanoutShared {
  readonly ints: Int32Array;
  readonly window: Float64Array;
  readonly acked: Int32Array;
  readonly ackMs: Float64Array;
  readonly rev: Float64Array;
  /** When put s was sent (written before the put, read only after its ack flag). */
  readonly sentMs: Float64Array;

  constructor(readonly buffers: { control: SharedArrayBuffer; acks: SharedArrayBuffer }, readonly seqMax: number) {
    assert.ok(Number.isInteger(seqMax) && seqMax >= 1 && seqMax <= seqLimit, `seqMax out of range: ${seqMax}`);
    assert.equal(buffers.acks.byteLength, seqMax * 28, 'acks buffer sized for seqMax');
    this.ints = new Int32Array(buffers.control, 0, ctlInts);
    this.window = new Float64Array(buffers.control, ctlInts * 4, 2);
    this.ackMs = new Float64Array(buffers.acks, 0, seqMax);
    this.rev = new Float64Array(buffers.acks, seqMax * 8, seqMax);
    this.sentMs = new Float64Array(buffers.acks, seqMax * 16, seqMax);
    this.acked = new Int32Array(buffers.acks, seqMax * 24, seqMax);
  }

  static create(seqMax: number): FanoutShared {
    return new FanoutShared({ control: new SharedArrayBuffer(ctlInts * 4 + 16), acks: new SharedArrayBuffer(seqMax * 28) }, seqMax);
  }

  phase(): number { return Atomics.load(this.ints, ctl.phase); }
  opened(): number { return Atomics.load(this.ints, ctl.opened); }
  openFailed(): number { return Atomics.load(this.ints, ctl.openFailed); }
  seqCount(): number { return Atomics.load(this.ints, ctl.seqCount); }
  windowStartMs(): number { return this.window[win.startMs] ?? 0; }
  windowEndMs(): number { return this.window[win.endMs] ?? 0; }

  addOpened(n: number): void { Atomics.add(this.ints, ctl.opened, n); }
  addOpenFailed(n: number): void { Atomics.add(this.ints, ctl.openFailed, n); }

  start(startMs: number, endMs: number): void {
    assert.ok(endMs > startMs, 'empty window');
    assert.equal(this.phase(), Phase.opening, 'the window is set once, after opening');
    this.window[win.startMs] = startMs;
    this.window[win.endMs] = endMs;
    Atomics.store(this.ints, ctl.phase, Phase.running);
  }

  recordSent(seq: number, atMs: number): void {
    assert.ok(seq >= 0 && seq < this.seqMax, `unknown put ${seq}`);
    assert.equal(Atomics.load(this.acked, seq), 0, 'a put is sent before it is acknowledged');
    this.sentMs[seq] = atMs;
  }

  recordAck(seq: number, atMs: number, revision: number): void {
    assert.ok(seq >= 0 && seq < this.seqMax, `ack of an unknown put ${seq}`);
    assert.ok(revision > 0, `put ${seq} acknowledged without a revision`);
    this.ackMs[seq] = atMs;
    this.rev[seq] = revision;
    Atomics.store(this.acked, seq, 1);
  }

  /** The acknowledgement time of put `seq`, or undefined if it has not been acknowledged (yet). */
  ackOf(seq: number): number | undefined {
    return Atomics.load(this.acked, seq) === 1 ? this.ackMs[seq] : undefined;
  }

  /** When put `seq` was sent, once it is acknowledged. */
  sentOf(seq: number): number | undefined {
    return Atomics.load(this.acked, seq) === 1 ? this.sentMs[seq] : undefined;
  }

  revOf(seq: number): number | undefined {
    return Atomics.load(this.acked, seq) === 1 ? this.rev[seq] : undefined;
  }

  finishWriter(seqCount: number): void {
    assert.ok(seqCount >= 0 && seqCount <= this.seqMax, `seqCount out of range: ${seqCount}`);
    Atomics.store(this.ints, ctl.seqCount, seqCount);
    Atomics.store(this.ints, ctl.phase, Phase.writerDone);
  }

  abort(): void {
    Atomics.store(this.ints, ctl.phase, Phase.abort);
  }
}

// ---- per-watcher bookkeeping ----

export type EventVerdict = 'new' | 'duplicate' | 'reordered' | 'foreign';

export interface LedgerTotals {
  /** Acknowledged puts a watcher did not get although it got a later revision: a gap. */
  readonly missed: number;
  /** Acknowledged puts after a watcher's last received revision: still in flight at the end. */
  readonly undelivered: number;
}

/**
 * Which puts each of `watchers` watchers has seen: one bit per (watcher, seq) in one buffer, a
 * count and the last revision per watcher. Invariant: `seen[w]` equals the number of bits set in
 * watcher w's row, and `lastRev[w]` only grows (a smaller or equal revision is a reorder).
 */
export class WatcherLedger {
  private readonly bits: Uint8Array;
  private readonly rowBytes: number;
  readonly seen: Int32Array;
  readonly lastRev: Float64Array;

  constructor(readonly watchers: number, readonly seqMax: number) {
    assert.ok(watchers >= 1 && seqMax >= 1, 'a ledger needs watchers and puts');
    this.rowBytes = Math.ceil(seqMax / 8);
    this.bits = new Uint8Array(watchers * this.rowBytes);
    this.seen = new Int32Array(watchers);
    this.lastRev = new Float64Array(watchers);
  }

  /** Bytes a ledger of this size takes (checked against a bound before a run). */
  static bytesFor(watchers: number, seqMax: number): number {
    return watchers * (Math.ceil(seqMax / 8) + 12);
  }

  record(w: number, seq: number, modRevision: number): EventVerdict {
    assert.ok(w >= 0 && w < this.watchers, `unknown watcher ${w}`);
    if (seq < 0 || seq >= this.seqMax) return 'foreign';
    const i = w * this.rowBytes + (seq >> 3);
    const mask = 1 << (seq & 7);
    if (((this.bits[i] ?? 0) & mask) !== 0) return 'duplicate';
    this.bits[i] = (this.bits[i] ?? 0) | mask;
    this.seen[w] = (this.seen[w] ?? 0) + 1;
    const reordered = modRevision <= (this.lastRev[w] ?? 0);
    if (!reordered) this.lastRev[w] = modRevision;
    return reordered ? 'reordered' : 'new';
  }

  has(w: number, seq: number): boolean {
    return ((this.bits[w * this.rowBytes + (seq >> 3)] ?? 0) & (1 << (seq & 7))) !== 0;
  }

  /** True when every watcher has seen `count` puts (all puts, when count is the acked total). */
  allSeen(count: number): boolean {
    for (let w = 0; w < this.watchers; w++) if ((this.seen[w] ?? 0) < count) return false;
    return true;
  }

  /** Missed and undelivered puts over all watchers; `revOf(s)` is put s's revision if acked. */
  totals(seqCount: number, revOf: (seq: number) => number | undefined): LedgerTotals {
    assert.ok(seqCount <= this.seqMax, 'more puts than the ledger holds');
    let missed = 0;
    let undelivered = 0;
    for (let s = 0; s < seqCount; s++) {
      const rev = revOf(s);
      if (rev === undefined) continue;
      for (let w = 0; w < this.watchers; w++) {
        if (this.has(w, s)) continue;
        if (rev <= (this.lastRev[w] ?? 0)) missed++;
        else undelivered++;
      }
    }
    return { missed, undelivered };
  }
}

/** Watchers per connection: one per HTTP stream; up to `perSocket` per WebSocket. */
export function connectionSizes(watchers: number, transport: Transport, perSocket: number): number[] {
  assert.ok(watchers >= 1 && perSocket >= 1, 'watchers and perSocket must be >= 1');
  const per = transport === 'http' ? 1 : perSocket;
  const sizes: number[] = [];
  for (let left = watchers; left > 0; left -= per) sizes.push(Math.min(per, left));
  return sizes;
}
