// mvcc-apply actor: owns the MVCC store (RocksDB underneath). It applies committed entries in
// log order, exactly once: the applied raft index is staged in the same backend batch as the
// data it covers, so after a crash raft replays the log from exactly that index. It answers the
// clients of the requests it applies directly on the main thread's port, and serves reads once it
// has applied as far as their read index.
//
// Apply is sequential: a batch finishes (including the rare asynchronous step, a txn that reads
// history) before the next one starts. Backend commits run at their own pace: one in flight at a
// time, each covering everything applied since the previous one (group commit).

import assert from 'node:assert/strict';
import type { MessagePort } from 'node:worker_threads';
import { Outbox, actorBoot, assertNever, mainPort, receive } from '../src/actors/runtime.js';
import { EtcdError, GrpcCode } from '../src/api/errors.js';
import type { ResponseHeader } from '../src/api/types.js';
import { createActorLogger } from '../src/server/log.js';
import { startCpuProfile } from '../src/server/profile.js';
import type { ApplyInit } from '../src/server/member-init.js';
import type {
  ApplyIn, MainFromApply, RaftFromApply, ReadEventsRequest, ReadItem, ResultItem, RevisionEvents, WatchEvent,
} from '../src/server/messages.js';
import { MvccStore } from '../src/mvcc/store.js';
import type { MvccEvent } from '../src/mvcc/store.js';
import { RocksDbBackend } from '../src/mvcc/rocksdb-backend.js';
import { decodeRaftRequest } from '../src/mvcc/request-codec.js';
import type { RaftRequest } from '../src/mvcc/request-codec.js';
import { EntryType } from '../src/raft/types.js';
import type { Entry } from '../src/raft/types.js';

const boot = actorBoot<ApplyInit>();
const stopProfile = startCpuProfile(boot.name);
const init = boot.init;
const log = createActorLogger(init.logLevel, boot.name);
const raftPort = boot.ports.raft as MessagePort;
assert.ok(raftPort, 'mvcc-apply needs its raft port');
const toRaft = new Outbox<RaftFromApply>(raftPort);
const toMain = new Outbox<MainFromApply>(mainPort());

/** Reads waiting for apply to reach their index; bounded by raft-node's read batching. */
const WAITING_READS_MAX = 100_000;

const backend = await RocksDbBackend.open(init.dbDir);
/** Watch events of the apply batch in progress, posted to main as one message at its end. */
let batchEvents: RevisionEvents[] = [];
const store = await MvccStore.open(backend, { onChanges: collectChanges });
/** The revision of the last watch event batch posted to main (the watch hub's view). */
let postedRevision = store.currentRevision;
log.info({ revision: store.currentRevision, consistentIndex: store.consistentIndex }, 'mvcc: store opened');

/** Highest raft index applied to the store (== store.consistentIndex once staged). */
let appliedIndex = store.consistentIndex;
/** Term to report in response headers: the latest term raft-node told us about. */
let term = 0;
/** Reads waiting for appliedIndex to reach `index`, in arrival order. */
const waitingReads: { index: number; term: number; items: ReadItem[] }[] = [];
let waitingReadCount = 0;
/** The apply pipeline: each step starts when the previous one has finished. */
let chain: Promise<void> = Promise.resolve();
let committing = false;
let commitAgain = false;

function header(revision: number): ResponseHeader {
  return { clusterId: init.clusterId, memberId: init.memberId, revision, raftTerm: term };
}

function withHeader<T extends { header: ResponseHeader }>(resp: T): T {
  resp.header = header(resp.header.revision);
  return resp;
}

function errorItem(id: bigint, err: unknown): ResultItem {
  if (err instanceof EtcdError) return { id, err: err.toData() };
  throw err; // anything else is a broken invariant: crash the actor
}

/** Applies one request; returns its result (or a promise of it, for physical compaction). */
function applyRequest(r: RaftRequest): unknown | Promise<unknown> {
  if ('put' in r) return withHeader(store.put(r.put));
  if ('deleteRange' in r) return withHeader(store.deleteRange(r.deleteRange));
  if ('txn' in r) {
    const t = store.txn(r.txn);
    return t instanceof Promise ? t.then(withHeader) : withHeader(t);
  }
  if ('compaction' in r) {
    const { done } = store.compact(r.compaction.revision);
    const resp = { header: header(store.currentRevision) };
    return r.compaction.physical ? done.then(() => resp) : resp;
  }
  throw new EtcdError(GrpcCode.Unimplemented, 'tetcd: unknown request in raft log');
}

async function applyEntries(entries: Entry[]): Promise<void> {
  const results: ResultItem[] = [];
  for (const e of entries) {
    assert.ok(e.index > appliedIndex, `entry ${e.index} applied twice (applied ${appliedIndex})`);
    if (e.type === EntryType.Normal && e.data.length > 0) {
      const r = decodeRaftRequest(e.data);
      try {
        const out = applyRequest(r);
        if (out instanceof Promise) {
          // Only physical compaction and history-reading txns get here; the latter must finish
          // before the next entry, the former answers later without holding apply up.
          if ('compaction' in r) out.then((ok) => postResults([{ id: r.id, ok }]), (err) => postResults([errorItem(r.id, err)]));
          else results.push({ id: r.id, ok: await out });
        } else {
          results.push({ id: r.id, ok: out });
        }
      } catch (err) {
        results.push(errorItem(r.id, err));
      }
    }
    store.setConsistentIndex(e.index, e.term);
    appliedIndex = e.index;
  }
  postEvents(); // before the results: an acknowledged write's events are already at main
  postResults(results);
  toRaft.send({ type: 'applied', index: appliedIndex });
  scheduleCommit();
  await serveWaitingReads();
}

function toWatchEvent(e: MvccEvent): WatchEvent {
  return e.prevKv === undefined ? { type: e.type, kv: e.kv } : { type: e.type, kv: e.kv, prevKv: e.prevKv };
}

function collectChanges(events: readonly MvccEvent[], revision: number): void {
  const last = batchEvents[batchEvents.length - 1];
  assert.ok(revision > (last?.revision ?? postedRevision), `watch events out of order at ${revision}`);
  batchEvents.push({ revision, events: events.map(toWatchEvent) });
}

function postEvents(): void {
  if (batchEvents.length === 0) return;
  const revisions = batchEvents;
  batchEvents = [];
  postedRevision = revisions[revisions.length - 1]!.revision;
  assert.equal(postedRevision, store.currentRevision, 'every change of the batch is posted');
  toMain.send({ type: 'events', revisions, raftTerm: term });
}

/** How long a catch-up read waits for the revisions it needs to reach the backend. */
const EVENTS_FLUSH_WAIT_MS_MAX = 10_000;

/**
 * Watch catch-up: reads history fromRev..toRev (never beyond what main has been told about),
 * grouped by revision, with prevKv filled when asked. Runs beside apply, not in its chain: it
 * only reads. A start below the compaction point is answered as data, not as an error.
 */
async function readEventsFor(req: ReadEventsRequest): Promise<void> {
  const target = Math.min(req.toRev, postedRevision);
  const deadline = Date.now() + EVENTS_FLUSH_WAIT_MS_MAX;
  while (store.flushedRevision < Math.min(target, req.fromRev) && Date.now() < deadline) {
    await store.drain();
    if (store.flushedRevision < Math.min(target, req.fromRev)) await new Promise((r) => setTimeout(r, 1));
  }
  const toRev = Math.min(target, store.flushedRevision);
  if (req.fromRev > toRev) {
    toMain.send({ type: 'readEvents', id: req.id, revisions: [], nextRev: req.fromRev });
    return;
  }
  let read: Awaited<ReturnType<MvccStore['readEvents']>>;
  try {
    read = await store.readEvents(req.fromRev, toRev, req.maxEvents);
  } catch (err) {
    if (!(err instanceof EtcdError) || err.message !== EtcdError.of('Compacted').message) throw err;
    toMain.send({ type: 'readEvents', id: req.id, compactRevision: store.compactRevision });
    return;
  }
  const revisions: RevisionEvents[] = [];
  for (const e of read.events) {
    const ev = toWatchEvent(e);
    if (req.prevKv) await fillPrevKv(ev);
    const last = revisions[revisions.length - 1];
    if (last !== undefined && last.revision === e.kv.modRevision) last.events.push(ev);
    else revisions.push({ revision: e.kv.modRevision, events: [ev] });
  }
  assert.ok(read.nextRev > req.fromRev || read.events.length === 0, 'catch-up makes progress');
  toMain.send({ type: 'readEvents', id: req.id, revisions, nextRev: read.nextRev });
}

/** The key's value just before the event, as etcd reads it (left out when compacted away). */
async function fillPrevKv(ev: WatchEvent): Promise<void> {
  try {
    const r = store.range({ key: ev.kv.key, revision: ev.kv.modRevision - 1 });
    const kv = (r instanceof Promise ? await r : r).kvs[0];
    if (kv !== undefined) ev.prevKv = kv;
  } catch (err) {
    if (!(err instanceof EtcdError)) throw err;
  }
}

function postResults(items: ResultItem[]): void {
  if (items.length > 0) toMain.send({ type: 'results', items });
}

function scheduleCommit(): void {
  if (committing) {
    commitAgain = true;
    return;
  }
  committing = true;
  store.commit().then(() => {
    committing = false;
    if (commitAgain) {
      commitAgain = false;
      scheduleCommit();
    }
  }, (err) => {
    log.fatal({ err }, 'mvcc: backend commit failed');
    throw err;
  });
}

async function serveReads(items: ReadItem[], readTerm: number): Promise<void> {
  if (readTerm > term) term = readTerm;
  const results: ResultItem[] = [];
  for (const it of items) {
    try {
      const out = it.kind === 'range' ? store.range(it.req) : store.txn(it.req);
      results.push({ id: it.id, ok: withHeader(out instanceof Promise ? await out : out) });
    } catch (err) {
      results.push(errorItem(it.id, err));
    }
  }
  postResults(results);
}

async function serveWaitingReads(): Promise<void> {
  while (waitingReads.length > 0 && waitingReads[0]!.index <= appliedIndex) {
    const w = waitingReads.shift()!;
    waitingReadCount -= w.items.length;
    await serveReads(w.items, w.term);
  }
}

function enqueue(step: () => Promise<void>): void {
  chain = chain.then(step).catch((err) => {
    log.fatal({ err }, 'mvcc: apply failed');
    setImmediate(() => { throw err; });
  });
}

receive<ApplyIn>(raftPort, (msg) => {
  switch (msg.type) {
    case 'apply':
      if (msg.term > term) term = msg.term;
      enqueue(() => applyEntries(msg.entries));
      return;
    case 'read':
      onRead(msg.items, msg.index, msg.term);
      return;
    case 'failReads':
      postResults(msg.ids.map((id) => ({ id, err: msg.error })));
      return;
    case 'status':
    case 'close':
    case 'readEvents':
    case 'watchStatus':
      assert.fail(`${msg.type} comes from main, not raft`);
      return;
    default:
      assertNever(msg);
  }
});

function onRead(items: ReadItem[], index: number, readTerm: number): void {
  if (index <= appliedIndex) {
    enqueue(() => serveReads(items, readTerm));
    return;
  }
  if (waitingReadCount + items.length > WAITING_READS_MAX) {
    postResults(items.map((it) => ({ id: it.id, err: EtcdError.of('TooManyRequests').toData() })));
    return;
  }
  assert.ok(waitingReads.length === 0 || waitingReads[waitingReads.length - 1]!.index <= index, 'read indexes go back');
  waitingReads.push({ index, term: readTerm, items });
  waitingReadCount += items.length;
}

receive<ApplyIn>(mainPort(), (msg) => {
  switch (msg.type) {
    case 'read':
      onRead(msg.items, msg.index, msg.term);
      return;
    case 'status':
      toMain.send({
        type: 'status',
        id: msg.id,
        status: {
          revision: store.currentRevision,
          compactRevision: store.compactRevision,
          dbSizeBytes: store.dbSizeBytes(),
          consistentIndex: appliedIndex,
          header: header(store.currentRevision),
        },
      });
      return;
    case 'close':
      enqueue(async () => {
        await store.close();
        stopProfile();
        toMain.send({ type: 'closed', id: msg.id });
      });
      return;
    case 'readEvents':
      readEventsFor(msg).catch((err) => {
        log.fatal({ err }, 'mvcc: watch catch-up read failed');
        setImmediate(() => { throw err; });
      });
      return;
    case 'watchStatus':
      toMain.send({ type: 'watchStatus', id: msg.id, revision: postedRevision, compactRevision: store.compactRevision, raftTerm: term });
      return;
    case 'apply':
    case 'failReads':
      assert.fail(`${msg.type} comes from raft, not main`);
      return;
    default:
      assertNever(msg);
  }
});

toRaft.send({ type: 'opened', consistentIndex: store.consistentIndex, consistentTerm: store.consistentIndexTerm });
