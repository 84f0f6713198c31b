// The watch hub: every watch of a member, on the main thread, fed by mvcc-apply's event batches.
// It follows etcd's watchable store:
//
// - A watcher is SYNCED when every event it wants up to the hub's revision has been handed to
//   its stream; synced watchers sit in the RangeIndex and get live batches as they arrive (one
//   match per event, not one check per watcher). Invariant: a synced watcher's stream has been
//   given every matching event with revision in [start, hub.revision].
// - A watcher is UNSYNCED when it starts in the past, or when its stream could not take a live
//   batch (its send buffer is full: a slow client). It then catches up from history: one catch-up
//   loop reads revisions [min nextRev, hub.revision] through mvcc-apply (bounded reads) and hands
//   each ready watcher its part, and moves it back to synced once it reaches hub.revision. A slow
//   client's watchers therefore cost a bounded send buffer plus a revision number, never hold
//   writers or other watchers up, and never lose an event: they re-read what they missed.
// - Invariant for every watcher: `nextRev` is the lowest revision whose matching events it has not
//   been given yet; responses leave in revision order, all events of one revision in one response
//   (split only by etcd's `fragment`, on request).
// - When the member replaces its store with a leader's snapshot (a follower far behind), the
//   revisions between the hub's revision and the snapshot's never come as a live batch: the
//   hub then moves EVERY synced watcher to unsynced, and they catch up from the restored history
//   (or are canceled with compact_revision if it was compacted away, as etcd does when its
//   watchable store restores: every synced watcher becomes a victim of the old revision).
//
// Streams (one HTTP POST /v3/watch or one WebSocket) own their watchers; closing a stream frees
// everything. The hub never encodes: the gateway's sink does (codec at the edge).

import assert from 'node:assert/strict';
import type { ResponseHeader } from '../api/types.js';
import type { ReadEventsReply, RevisionEvents, WatchStatusReply } from '../server/messages.js';
import { keyString } from '../mvcc/tree-index.js';
import { OPEN_END, RangeIndex } from './range-index.js';
import { AUTO_WATCH_ID, FILTER_NODELETE, FILTER_NOPUT, INVALID_WATCH_ID } from './types.js';
import type { WatchCreateRequest, WatchEvent, WatchRequest, WatchResponse } from './types.js';

/** A stream stops taking event responses above this many unwritten bytes (slow-consumer mark). */
export const STREAM_BUFFER_BYTES_MAX = 1024 * 1024;
/** Unwritten bytes past which a stream is closed outright (control answers to a non-reader). */
export const STREAM_BUFFER_BYTES_HARD_MAX = 64 * 1024 * 1024;
/** An event response is cut (at a revision boundary) once it holds about this many bytes. */
export const RESPONSE_BYTES_TARGET = 64 * 1024;
/** Events per catch-up read (a read never splits a revision, so it can hold more). */
export const CATCHUP_EVENTS_PER_READ_MAX = 1000;
/** Watchers per stream and per hub; a create beyond them is refused with a cancel reason. */
export const STREAM_WATCHERS_MAX = 100_000;
export const HUB_WATCHERS_MAX = 1_000_000;
/** etcd's default --experimental-watch-progress-notify-interval. */
export const PROGRESS_NOTIFY_INTERVAL_MS_DEFAULT = 10 * 60 * 1000;
/** etcd's default --max-request-bytes: the fragment size. */
export const FRAGMENT_BYTES_DEFAULT = 1.5 * 1024 * 1024;
/** Approximate protobuf overhead of one event beyond its keys and values. */
const EVENT_OVERHEAD_BYTES = 48;

export const DUPLICATE_WATCH_ID_REASON = 'mvcc: duplicate watch ID provided on the WatchStream';
export const TOO_MANY_WATCHERS_REASON = 'tetcd: too many watchers';

/** What the hub needs from a member (Member implements it). */
export interface WatchSource {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  subscribeEvents(listener: (revisions: RevisionEvents[], raftTerm: number) => void): () => void;
  readEvents(fromRev: number, toRev: number, maxEvents: number, prevKv: boolean): Promise<ReadEventsReply>;
  watchStatus(): Promise<WatchStatusReply>;
  /** Tells when the store was replaced by a snapshot, at `revision` (absent: never happens). */
  subscribeRestores?(listener: (revision: number) => void): () => void;
}

export interface WatchHubOptions {
  /** 0 disables progress notifications. */
  progressNotifyIntervalMs?: number;
  /** Largest response of a `fragment` watcher (etcd: --max-request-bytes). */
  fragmentBytes?: number;
  /** Called when a catch-up read fails for a reason other than compaction (member stopping). */
  onError?: (err: unknown) => void;
}

/** Where a stream's responses go (the gateway encodes and writes them). */
export interface StreamSink {
  /** Queues one response; calls `written` once it has left our buffers. Returns its size in bytes. */
  send(resp: WatchResponse, written: () => void): number;
  /** Ends the connection from the server side. */
  close(reason: string): void;
}

export interface HubStats {
  streams: number;
  watchers: number;
  synced: number;
  unsynced: number;
  indexNodes: number;
  revision: number;
  eventsSent: number;
  slowWatcherMoves: number;
  catchupReads: number;
  compactedCancels: number;
}

interface Watcher {
  readonly id: bigint;
  readonly stream: WatchStream;
  readonly key: string;
  /** undefined: the single key; OPEN_END: no end. */
  readonly end: string | undefined;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  readonly fragment: boolean;
  nextRev: number;
  state: 'synced' | 'unsynced' | 'gone';
}

export function rangeOf(key: Uint8Array, rangeEnd: Uint8Array | undefined): { key: string; end: string | undefined } {
  if (rangeEnd === undefined || rangeEnd.length === 0) return { key: keyString(key), end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { key: keyString(key), end: OPEN_END };
  return { key: keyString(key), end: keyString(rangeEnd) };
}

/** Whether watcher-like `w` wants `ev` (range and filters). */
export function wants(w: { key: string; end: string | undefined; noPut: boolean; noDelete: boolean }, ev: WatchEvent): boolean {
  if (ev.type === 'PUT' ? w.noPut : w.noDelete) return false;
  const k = keyString(ev.kv.key);
  return w.end === undefined ? k === w.key : k >= w.key && k < w.end;
}

export function eventBytes(ev: WatchEvent): number {
  const prev = ev.prevKv === undefined ? 0 : ev.prevKv.key.length + ev.prevKv.value.length + EVENT_OVERHEAD_BYTES;
  return ev.kv.key.length + ev.kv.value.length + EVENT_OVERHEAD_BYTES + prev;
}

/**
 * Splits one response's events into fragments of at most `maxBytes` (at least one event each),
 * as etcd does for a watcher that asked for `fragment`. One fragment: no split.
 */
export function fragmentEvents(events: readonly WatchEvent[], maxBytes: number): WatchEvent[][] {
  assert.ok(maxBytes > 0);
  const out: WatchEvent[][] = [];
  let cur: WatchEvent[] = [];
  let bytes = 0;
  for (const ev of events) {
    const b = eventBytes(ev);
    if (cur.length > 0 && bytes + b > maxBytes) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(ev);
    bytes += b;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** The events of `revisions` that `w` wants from revision `fromRev` on, grouped by revision. */
export function selectEvents(w: Watcher, revisions: readonly RevisionEvents[], fromRev: number): RevisionEvents[] {
  const out: RevisionEvents[] = [];
  for (const r of revisions) {
    if (r.revision < fromRev) continue;
    let picked: WatchEvent[] | undefined;
    for (const ev of r.events) {
      if (!wants(w, ev)) continue;
      (picked ??= []).push(w.prevKv || ev.prevKv === undefined ? ev : { type: ev.type, kv: ev.kv });
    }
    if (picked !== undefined) out.push({ revision: r.revision, events: picked });
  }
  return out;
}

export class WatchHub {
  private readonly synced = new RangeIndex<Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private readonly streams = new Set<WatchStream>();
  /** The revision of the last event batch seen; -1 until the first watchStatus answer. */
  private revision = -1;
  private raftTerm = 0;
  private watcherCount = 0;
  private catchupRunning = false;
  private catchupAgain = false;
  private readonly progressTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeRestores: () => void;
  private readonly fragmentBytes: number;
  readonly ready: Promise<void>;
  private readonly counters = { eventsSent: 0, slowWatcherMoves: 0, catchupReads: 0, compactedCancels: 0 };

  constructor(private readonly source: WatchSource, private readonly opts: WatchHubOptions = {}) {
    this.fragmentBytes = opts.fragmentBytes ?? FRAGMENT_BYTES_DEFAULT;
    assert.ok(this.fragmentBytes > 0, 'fragment size is positive');
    this.unsubscribe = source.subscribeEvents((revisions, term) => this.onBatch(revisions, term));
    this.unsubscribeRestores = source.subscribeRestores?.((revision) => this.onStoreRestored(revision)) ?? (() => undefined);
    // Batches that arrive before the status answer are older than it (one ordered port).
    this.ready = source.watchStatus().then((s) => {
      this.revision = Math.max(this.revision, s.revision);
      this.raftTerm = Math.max(this.raftTerm, s.raftTerm);
    });
    const every = opts.progressNotifyIntervalMs ?? PROGRESS_NOTIFY_INTERVAL_MS_DEFAULT;
    if (every > 0) {
      this.progressTimer = setInterval(() => this.notifyProgress(), every);
      this.progressTimer.unref();
    }
  }

  /** A new stream; call after `ready`. */
  openStream(sink: StreamSink): WatchStream {
    assert.ok(this.revision >= 0, 'openStream before the hub is ready');
    const s = new WatchStream(this, sink);
    this.streams.add(s);
    return s;
  }

  stats(): HubStats {
    return {
      streams: this.streams.size, watchers: this.watcherCount, synced: this.synced.size, unsynced: this.unsynced.size,
      indexNodes: this.synced.nodeCount, revision: this.revision, ...this.counters,
    };
  }

  /** Stops taking batches and closes every stream. */
  close(): void {
    this.unsubscribe();
    this.unsubscribeRestores();
    if (this.progressTimer !== undefined) clearInterval(this.progressTimer);
    for (const s of [...this.streams]) s.close('watch hub closed');
  }

  header(revision: number): ResponseHeader {
    return { clusterId: this.source.clusterId, memberId: this.source.memberId, revision, raftTerm: this.raftTerm };
  }

  get currentRevision(): number { return this.revision; }

  // ---- watcher lifecycle (called by WatchStream) ----

  /** Registers a watcher and sends its `created` answer; returns undefined when refused. */
  createWatcher(stream: WatchStream, id: bigint, req: WatchCreateRequest): Watcher | undefined {
    if (this.watcherCount >= HUB_WATCHERS_MAX || stream.watcherCount >= STREAM_WATCHERS_MAX) {
      stream.send(this.refusal(TOO_MANY_WATCHERS_REASON));
      return undefined;
    }
    const { key, end } = rangeOf(req.key, req.rangeEnd);
    const filters = req.filters ?? [];
    const start = req.startRevision ?? 0;
    const w: Watcher = {
      id, stream, key, end,
      noPut: filters.includes(FILTER_NOPUT), noDelete: filters.includes(FILTER_NODELETE),
      prevKv: req.prevKv === true, progressNotify: req.progressNotify === true, fragment: req.fragment === true,
      // etcd: 0 (or a future revision) starts synced; anything else catches up, from 1 at least.
      nextRev: start === 0 ? this.revision + 1 : Math.max(1, start),
      state: 'synced',
    };
    this.watcherCount++;
    stream.send({ header: this.header(this.revision), watchId: id, created: true, events: [] });
    if (w.nextRev > this.revision) this.synced.add(w.key, w.end, w);
    else this.toUnsynced(w);
    return w;
  }

  removeWatcher(w: Watcher): void {
    if (w.state === 'gone') return;
    if (w.state === 'synced') assert.ok(this.synced.remove(w.key, w.end, w), 'synced watcher is indexed');
    else assert.ok(this.unsynced.delete(w), 'unsynced watcher is in the set');
    w.state = 'gone';
    this.watcherCount--;
    assert.ok(this.watcherCount >= 0);
  }

  dropStream(s: WatchStream): void {
    this.streams.delete(s);
  }

  refusal(reason: string): WatchResponse {
    return { header: this.header(this.revision), watchId: INVALID_WATCH_ID, created: true, canceled: true, cancelReason: reason, events: [] };
  }

  /** A stream's buffer drained below its mark: its unsynced watchers can move on. */
  kickCatchup(): void {
    if (this.unsynced.size > 0) void this.runCatchup();
  }

  // ---- live path ----

  private onBatch(revisions: RevisionEvents[], term: number): void {
    assert.ok(revisions.length > 0, 'an event batch is not empty');
    const first = revisions[0]!.revision;
    const last = revisions[revisions.length - 1]!.revision;
    assert.ok(this.revision < 0 || first > this.revision, `batch at ${first} after ${this.revision}`);
    if (term > this.raftTerm) this.raftTerm = term;
    if (this.revision < 0) {
      this.revision = last; // before the status answer: nobody watches yet
      return;
    }
    const touched = new Set<Watcher>();
    for (const r of revisions) {
      for (const ev of r.events) this.synced.match(keyString(ev.kv.key), (w) => { if (r.revision >= w.nextRev) touched.add(w); });
    }
    this.revision = last;
    for (const w of touched) {
      const groups = selectEvents(w, revisions, w.nextRev);
      if (groups.length === 0) continue;
      const from = Math.max(w.nextRev, first);
      if (!this.deliver(w, groups, last)) {
        // A slow client: the rest is re-read from history when its buffer drains.
        this.synced.remove(w.key, w.end, w);
        if (w.nextRev < from) w.nextRev = from;
        this.counters.slowWatcherMoves++;
        this.toUnsynced(w);
      }
    }
  }

  /**
   * The store was replaced by a snapshot at `revision`: events up to it will never come live.
   * Every synced watcher keeps its nextRev and catches up from the restored history instead.
   */
  private onStoreRestored(revision: number): void {
    assert.ok(Number.isSafeInteger(revision) && revision >= 0, `restored revision ${revision}`);
    assert.ok(revision >= this.revision, `store restored at ${revision}, below the hub's ${this.revision}`);
    if (this.revision < 0) return; // before the status answer: nobody watches yet, and it will be later
    this.revision = revision;
    const moved = this.synced.size;
    for (const w of this.syncedWatchers()) {
      assert.ok(this.synced.remove(w.key, w.end, w), 'synced watcher is indexed');
      w.state = 'unsynced';
      this.unsynced.add(w);
    }
    assert.equal(this.synced.size, 0, 'no watcher stays synced across a restore');
    if (moved > 0 || this.unsynced.size > 0) void this.runCatchup();
  }

  /** Every synced watcher (a copy: the caller may move them). */
  private syncedWatchers(): Watcher[] {
    const out: Watcher[] = [];
    for (const s of this.streams) for (const w of s.allWatchers()) if (w.state === 'synced') out.push(w);
    return out;
  }

  /**
   * Hands `groups` (w's events, by revision) to w's stream, in responses cut at revision
   * boundaries, while its buffer has room. Complete: w.nextRev = upTo + 1 and true. Otherwise
   * w.nextRev is the first revision not handed over, and false.
   */
  private deliver(w: Watcher, groups: readonly RevisionEvents[], upTo: number): boolean {
    let events: WatchEvent[] = [];
    let bytes = 0;
    for (const g of groups) {
      assert.ok(g.revision >= w.nextRev, 'events go forward');
      if (events.length === 0 && w.stream.full) {
        w.nextRev = g.revision;
        return false;
      }
      for (const ev of g.events) { events.push(ev); bytes += eventBytes(ev); }
      if (bytes >= RESPONSE_BYTES_TARGET) {
        this.sendEvents(w, events);
        w.nextRev = g.revision + 1;
        events = [];
        bytes = 0;
      }
    }
    if (events.length > 0) this.sendEvents(w, events);
    w.nextRev = upTo + 1;
    return true;
  }

  private sendEvents(w: Watcher, events: WatchEvent[]): void {
    const header = this.header(this.revision);
    const parts = w.fragment ? fragmentEvents(events, this.fragmentBytes) : [events];
    parts.forEach((part, i) => {
      const resp: WatchResponse = { header, watchId: w.id, events: part };
      if (i < parts.length - 1) resp.fragment = true;
      w.stream.send(resp);
    });
    this.counters.eventsSent += events.length;
  }

  private toUnsynced(w: Watcher): void {
    w.state = 'unsynced';
    this.unsynced.add(w);
    void this.runCatchup();
  }

  private toSynced(w: Watcher): void {
    assert.ok(w.nextRev > this.revision, 'a synced watcher is up to date');
    this.unsynced.delete(w);
    w.state = 'synced';
    this.synced.add(w.key, w.end, w);
    w.stream.onWatcherSynced();
  }

  // ---- catch-up path ----

  /** The catch-up loop (etcd's syncWatchersLoop): one read at a time, for every ready watcher. */
  private async runCatchup(): Promise<void> {
    if (this.catchupRunning) {
      this.catchupAgain = true;
      return;
    }
    this.catchupRunning = true;
    try {
      do {
        this.catchupAgain = false;
        while (await this.catchupRound());
      } while (this.catchupAgain);
    } catch (err) {
      this.opts.onError?.(err);
    } finally {
      this.catchupRunning = false;
    }
  }

  /** One bounded read for the unsynced watchers whose streams have room; false when none. */
  private async catchupRound(): Promise<boolean> {
    const ready = [...this.unsynced].filter((w) => !w.stream.full);
    if (ready.length === 0) return false;
    for (const w of ready) if (w.nextRev > this.revision) this.toSynced(w);
    const waiting = ready.filter((w) => w.state === 'unsynced');
    if (waiting.length === 0) return true;
    const from = Math.min(...waiting.map((w) => w.nextRev));
    const prevKv = waiting.some((w) => w.prevKv);
    this.counters.catchupReads++;
    const reply = await this.source.readEvents(from, this.revision, CATCHUP_EVENTS_PER_READ_MAX, prevKv);
    if ('compactRevision' in reply) {
      this.cancelCompacted(reply.compactRevision);
      return true;
    }
    assert.ok(reply.nextRev >= from, 'catch-up does not go back');
    for (const w of waiting) {
      if (w.state !== 'unsynced' || w.nextRev >= reply.nextRev || w.stream.full) continue;
      const groups = selectEvents(w, reply.revisions, w.nextRev);
      if (this.deliver(w, groups, reply.nextRev - 1) && w.nextRev > this.revision) this.toSynced(w);
    }
    return true;
  }

  /** Ends every unsynced watcher that starts below the compaction point, as etcd does. */
  private cancelCompacted(compactRevision: number): void {
    for (const w of [...this.unsynced]) {
      if (w.nextRev >= compactRevision) continue;
      this.counters.compactedCancels++;
      // etcd leaves the header revision out of this answer.
      w.stream.send({ header: this.header(0), watchId: w.id, canceled: true, compactRevision, events: [] });
      w.stream.forget(w);
    }
  }

  // ---- progress ----

  private notifyProgress(): void {
    for (const s of this.streams) s.notifyProgress();
  }

  /** Whether a progress answer for `w` can be sent now (it is a bookmark only when synced). */
  isSynced(w: Watcher): boolean {
    return w.state === 'synced';
  }
}

/** One watch stream (etcd's serverWatchStream): its watchers, its send buffer, its requests. */
export class WatchStream {
  private readonly watchers = new Map<bigint, Watcher>();
  private nextId = 0n;
  private bufferedBytes = 0;
  private progressWanted = false;
  /** The buffer went over its mark; its drain below the mark resumes catch-up. */
  private stalled = false;
  private closed = false;

  constructor(private readonly hub: WatchHub, private readonly sink: StreamSink) {}

  get full(): boolean { return this.bufferedBytes >= STREAM_BUFFER_BYTES_MAX; }
  get watcherCount(): number { return this.watchers.size; }
  allWatchers(): IterableIterator<Watcher> { return this.watchers.values(); }
  get isClosed(): boolean { return this.closed; }

  /** Handles one request from the client. */
  handle(req: WatchRequest): void {
    if (this.closed) return;
    if ('createRequest' in req) this.create(req.createRequest);
    else if ('cancelRequest' in req) this.cancel(req.cancelRequest.watchId);
    else this.requestProgress();
  }

  private create(req: WatchCreateRequest): void {
    let id = req.watchId ?? AUTO_WATCH_ID;
    if (id === AUTO_WATCH_ID) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) {
      this.send(this.hub.refusal(DUPLICATE_WATCH_ID_REASON));
      return;
    }
    const w = this.hub.createWatcher(this, id, req);
    if (w !== undefined && w.state !== 'gone') this.watchers.set(id, w);
  }

  private cancel(id: bigint): void {
    const w = this.watchers.get(id);
    if (w === undefined) return; // etcd answers nothing
    this.forget(w);
    this.send({ header: this.hub.header(this.hub.currentRevision), watchId: id, canceled: true, events: [] });
  }

  /** Removes a watcher from this stream and the hub. */
  forget(w: Watcher): void {
    assert.equal(w.stream, this);
    this.hub.removeWatcher(w);
    this.watchers.delete(w.id);
    this.onWatcherSynced();
  }

  /**
   * etcd 3.4 answers a progress request at once with the current revision; we wait until every
   * watcher of the stream is synced (as etcd 3.5 does), so that the answer is a true bookmark.
   */
  private requestProgress(): void {
    this.progressWanted = true;
    this.onWatcherSynced();
  }

  onWatcherSynced(): void {
    if (!this.progressWanted || this.closed) return;
    for (const w of this.watchers.values()) if (!this.hub.isSynced(w)) return;
    this.progressWanted = false;
    this.send({ header: this.hub.header(this.hub.currentRevision), watchId: INVALID_WATCH_ID, events: [] });
  }

  notifyProgress(): void {
    if (this.closed || this.full) return;
    for (const w of this.watchers.values()) {
      if (w.progressNotify && this.hub.isSynced(w)) {
        this.send({ header: this.hub.header(this.hub.currentRevision), watchId: w.id, events: [] });
      }
    }
  }

  send(resp: WatchResponse): void {
    if (this.closed) return;
    let done = false;
    let bytes = 0;
    bytes = this.sink.send(resp, () => {
      if (done) return;
      done = true;
      this.bufferedBytes -= bytes; // 0 when the sink wrote synchronously (nothing was added)
      assert.ok(this.bufferedBytes >= 0, 'buffered bytes never go negative');
      if (this.stalled && !this.full) {
        this.stalled = false;
        this.hub.kickCatchup();
      }
    });
    if (done) return;
    this.bufferedBytes += bytes;
    if (this.full) this.stalled = true;
    if (this.bufferedBytes > STREAM_BUFFER_BYTES_HARD_MAX) this.close('watch stream buffer overflow: the client does not read');
  }

  /** Frees every watcher; `reason` goes to the sink when the server ends the stream. */
  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) this.hub.removeWatcher(w);
    this.watchers.clear();
    this.hub.dropStream(this);
    if (reason !== undefined) this.sink.close(reason);
  }
}
