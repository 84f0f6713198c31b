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
import { crc32 } from 'node:zlib';
import { Outbox, actorBoot, assertNever, mainPort, receive } from '../src/actors/runtime.js';
import { EtcdError, GrpcCode } from '../src/api/errors.js';
import type { ResponseHeader } from '../src/api/types.js';
import { createActorLogger } from '../src/server/log.js';
import { startCpuProfile } from '../src/server/profile.js';
import type { ApplyInit } from '../src/server/member-init.js';
import type {
  ApplyIn, HashRequest, MainFromApply, RaftFromApply, ReadEventsRequest, ReadItem, ResultItem, RevisionEvents, WatchEvent,
} from '../src/server/messages.js';
import { MvccStore } from '../src/mvcc/store.js';
import type { MvccEvent } from '../src/mvcc/store.js';
import { RocksDbBackend } from '../src/mvcc/rocksdb-backend.js';
import { decodeRaftRequest, encodeRaftRequest } from '../src/mvcc/request-codec.js';
import { LeaseApplier } from '../src/lease/lease-apply.js';
import type { LeaseAnswer } from '../src/lease/lease-apply.js';
import { LEASE_REVOKE_INTERVAL_MS } from '../src/lease/lessor.js';
import type { BackendOp } from '../src/mvcc/backend.js';
import { encodeMetaValue, metaKey } from '../src/mvcc/revision.js';
import { decodeDump, encodeDump } from '../src/transport/snapshot-data.js';
import type { RaftRequest } from '../src/mvcc/request-codec.js';
import { EntryType } from '../src/raft/types.js';
import type { Entry, NodeId } from '../src/raft/types.js';
import { decodeConfChange } from '../src/raft/confchange.js';
import { CLUSTER_BUCKET_PREFIX, MemberRecords } from '../src/server/membership.js';
import type { MemberInfo } from '../src/server/membership.js';

const boot = actorBoot<ApplyInit>();
const stopProfile = startCpuProfile(boot.name);
const init = boot.init;
const log = createActorLogger(init.logLevel, boot.name, init.memberName);
const raftPort = boot.ports.raft as MessagePort;
assert.ok(raftPort, 'mvcc-apply needs its raft port');
const toRaft = new Outbox<RaftFromApply>(raftPort);
const toMain = new Outbox<MainFromApply>(mainPort());

/** Reads waiting for apply to reach their index; bounded by raft-node's read batching. */
const WAITING_READS_MAX = 100_000;
/** Largest store dump sent to a follower as a snapshot (held in memory while it is sent). */
const SNAPSHOT_DUMP_BYTES_MAX = 512 * 1024 * 1024;
/** Every key of the backend (all buckets start below 0xff). */
const WHOLE_BACKEND = { gte: new Uint8Array(0), lt: Uint8Array.of(0xff, 0xff, 0xff, 0xff) };
/** The store's consistent-index key (src/mvcc/store.ts), rewritten unchanged to force a sync. */
const META_CONSISTENT_INDEX_KEY = metaKey('consistent_index');

const backend = await RocksDbBackend.open(init.dbDir);
/** Watch events of the apply batch in progress, posted to main as one message at its end. */
let batchEvents: RevisionEvents[] = [];
/** Every store gets these: watch events, and the lessor's attachments kept in step (leases below). */
const STORE_OPTIONS = { onChanges: (events: readonly MvccEvent[], revision: number) => { leases.onChanges(events); collectChanges(events, revision); } };
/** Replaced (never closed: the backend stays open) when a leader's snapshot is restored. */
let store = await MvccStore.open(backend, STORE_OPTIONS);
/** The lessor and its persistence (src/lease/lease-apply.ts); reloaded with the store. */
const leases = await openLeases();
/** Member records and the cluster id, in the backend's cluster bucket (membership.ts); reloaded with the store. */
let members = await MemberRecords.load(backend);
/** The revision of the last watch event batch posted to main (the watch hub's view). */
let postedRevision = store.currentRevision;
log.info({ revision: store.currentRevision, consistentIndex: store.consistentIndex }, 'mvcc: store opened');

/** Highest raft index applied to the store (== store.consistentIndex once staged). */
let appliedIndex = store.consistentIndex;
/**
 * Highest raft index raft-node has handed over (applied, or skipped because a restored snapshot
 * already holds it); what 'applied' reports, as raft's log may lag a restored store.
 */
let handedIndex = 0;
/** The last index reported 'durable' to raft-node (a log snapshot may be taken there). */
let durableReportedIndex = store.consistentIndex;
/** Term to report in response headers: the latest term raft-node told us about. */
let term = 0;
/** Reads waiting for appliedIndex to reach `index`, in arrival order. */
const waitingReads: { index: number; term: number; items: ReadItem[] }[] = [];
let waitingReadCount = 0;
/** The apply pipeline: each step starts when the previous one has finished. */
let chain: Promise<void> = Promise.resolve();
let committing = false;
let commitAgain = false;

/** Lease clocks are monotonic: they are never persisted, only compared within this process. */
function nowMs(): number {
  return performance.now();
}

async function openLeases(): Promise<LeaseApplier> {
  const { applier, orphanKeys } = await LeaseApplier.load(backend, store, {
    electionTimeoutMs: init.electionTimeoutMs, heartbeatIntervalMs: init.heartbeatIntervalMs, header,
  });
  if (orphanKeys > 0) log.warn({ orphanKeys }, 'mvcc: keys name leases that do not exist');
  log.info({ leases: applier.lessor.stats().leaseCount }, 'mvcc: leases restored');
  return applier;
}

/** Lease id changes before the batch's results (main checks put leases), held keep-alive answers after. */
function postLeaseChanges(): void {
  const c = leases.takeIdChanges();
  if (c !== undefined) toMain.send({ type: 'leaseIds', ...c });
}

function postLeaseAnswers(): void {
  const answers: LeaseAnswer[] = leases.takeAnswers();
  if (answers.length > 0) postResults(answers);
}

/** The leader's lease work every LEASE_REVOKE_INTERVAL_MS: revokes of expired leases, checkpoints. */
function leaseTick(): void {
  const reqs = leases.tick(nowMs());
  if (reqs.length === 0) return;
  // Request id 0: nobody waits for these; a dropped or lost one is retried by the lessor.
  toRaft.send({ type: 'propose', items: reqs.map((r) => ({ id: 0n, data: encodeRaftRequest({ id: 0n, ...r }) })) });
}

function header(revision: number): ResponseHeader {
  // A joining member starts without a cluster id (0) and stores its peers' once it has it.
  const clusterId = members.clusterId !== 0n ? members.clusterId : init.clusterId;
  return { clusterId, memberId: init.memberId, revision, raftTerm: term };
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
  if ('leaseGrant' in r || 'leaseRevoke' in r || 'leaseCheckpoint' in r) return leases.apply(r, store, nowMs());
  throw new EtcdError(GrpcCode.Unimplemented, 'tetcd: unknown request in raft log');
}

async function applyEntries(entries: Entry[]): Promise<void> {
  const results: ResultItem[] = [];
  for (const e of entries) {
    assert.ok(e.index > handedIndex, `entry ${e.index} handed over twice (after ${handedIndex})`);
    handedIndex = e.index;
    // Entries at or below the store's consistent index are in it already: a snapshot from the
    // leader (taken later than raft's snapshot point) or a restart before raft knew it. Skipping
    // them is what makes apply exactly-once.
    if (e.index <= appliedIndex) continue;
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
    if (e.type === EntryType.ConfChange) store.stageOps(members.apply(decodeConfChange(e.data)));
    store.setConsistentIndex(e.index, e.term);
    appliedIndex = e.index;
    leases.onEntryApplied(e.term, nowMs());
  }
  postEvents(); // before the results: an acknowledged write's events are already at main
  postLeaseChanges();
  postResults(results);
  postLeaseAnswers();
  toRaft.send({ type: 'applied', index: handedIndex });
  scheduleCommit();
  await serveWaitingReads();
  if (handedIndex - durableReportedIndex >= init.snapshotCount) await reportDurable();
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

// ---- snapshots: durable points for log compaction, dumps for followers, restores ----

/**
 * Makes the store durable up to what is applied (a commit, then a synced write) and tells
 * raft-node, which may then snapshot and compact its log there. The synced write rewrites the
 * consistent index with the value the commit just stored: RocksDB syncs its WAL in order, so it
 * makes that commit durable too, and it leaves the data (and every hash of it) unchanged.
 */
async function reportDurable(): Promise<void> {
  await store.commit();
  const index = store.consistentIndex;
  await backend.write([{ type: 'put', key: META_CONSISTENT_INDEX_KEY, value: encodeMetaValue(index) }], { sync: true });
  durableReportedIndex = handedIndex;
  assert.ok(handedIndex <= index && appliedIndex === index, 'the durable store covers what was handed over');
  toRaft.send({ type: 'durable', index: handedIndex });
}

/** A dump of the whole backend (every bucket) as committed now, for a follower's MsgSnap. */
async function dumpStore(seq: number): Promise<void> {
  await store.commit();
  const pairs: Array<[Uint8Array, Uint8Array]> = [];
  let bytes = 0;
  for await (const [k, v] of backend.iterate(WHOLE_BACKEND)) {
    bytes += k.byteLength + v.byteLength + 8;
    if (bytes > SNAPSHOT_DUMP_BYTES_MAX) {
      toRaft.send({ type: 'snapshotData', seq, index: handedIndex, error: `store larger than ${SNAPSHOT_DUMP_BYTES_MAX} B` });
      return;
    }
    pairs.push([k, v]);
  }
  const data = encodeDump(pairs);
  log.info({ bytes: data.byteLength, keys: pairs.length, index: store.consistentIndex }, 'mvcc: store dumped for a snapshot');
  toRaft.send({ type: 'snapshotData', seq, data, index: store.consistentIndex });
}

/**
 * Replaces the store with a leader's dump in ONE synced batch (so a crash leaves the old store
 * or the new one), then reopens the store over it. raft's snapshot is at `index`; the dump may be
 * later, and the entries in between are skipped when raft hands them over.
 */
async function restoreStore(index: number, data: Uint8Array): Promise<void> {
  const pairs = decodeDump(data);
  await store.drain();
  const ops: BackendOp[] = [];
  for await (const [k] of backend.iterate(WHOLE_BACKEND)) ops.push({ type: 'del', key: k });
  for (const [key, value] of pairs) ops.push({ type: 'put', key, value });
  await backend.write(ops, { sync: true });
  batchEvents = [];
  store = await MvccStore.open(backend, STORE_OPTIONS);
  await leases.reload(backend, store);
  const clusterId = members.clusterId;
  members = await MemberRecords.load(backend);
  if (members.clusterId === 0n && clusterId !== 0n) await backend.write(members.identity(clusterId, []), { sync: true });
  postLeaseChanges();
  postLeaseAnswers();
  assert.ok(store.consistentIndex >= index, `snapshot data at ${store.consistentIndex} is older than raft's ${index}`);
  appliedIndex = store.consistentIndex;
  handedIndex = index;
  durableReportedIndex = index;
  postedRevision = store.currentRevision;
  log.info({ index, consistentIndex: appliedIndex, revision: store.currentRevision, keys: pairs.length }, 'mvcc: store restored from a snapshot');
  // Before any later 'events' (same port): the watch hub re-reads the skipped revisions.
  toMain.send({ type: 'storeRestored', revision: store.currentRevision, compactRevision: store.compactRevision });
  toRaft.send({ type: 'restored', index, members: members.list() });
  await serveWaitingReads();
}

/** raft-node's identity records (a new cluster's, or the id a joiner adopted): written synced. */
async function storeIdentity(clusterId: NodeId, founders: MemberInfo[]): Promise<void> {
  assert.ok(clusterId !== 0n || founders.length === 0, 'founders come with their cluster id');
  const ops = members.identity(clusterId, founders);
  if (ops.length > 0) await backend.write(ops, { sync: true });
  log.info({ clusterId: clusterId.toString(16), founders: founders.length }, 'mvcc: cluster identity stored');
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

// ---- maintenance hashes (etcd's Hash and HashKV) ----

/**
 * Backend keys Hash leaves out, as etcd does: the applied index and its term differ between
 * members holding the same data (a member may have applied a few more empty entries).
 */
const HASH_IGNORED_KEYS = new Set(['consistent_index', 'consistent_term'].map((n) => Buffer.from(metaKey(n)).toString('hex')));
/** Every bucket: their one-byte prefixes are ASCII letters (src/mvcc/revision.ts, lease codec). */
const BACKEND_ALL = { gte: new Uint8Array(0), lt: Uint8Array.of(0xff) };

/** CRC-32 over every backend record but HASH_IGNORED_KEYS, key then value, in key order. */
async function hashBackend(): Promise<number> {
  let hash = 0;
  for await (const [k, v] of backend.iterate(BACKEND_ALL)) {
    assert.ok(k.length > 0 && k[0]! < 0xff, 'backend keys start with a bucket letter');
    if (HASH_IGNORED_KEYS.has(Buffer.from(k).toString('hex'))) continue;
    if (k[0] === CLUSTER_BUCKET_PREFIX) continue; // founders store their bootstrap records, a joiner may not

    hash = crc32(v, crc32(k, hash));
  }
  assert.ok(Number.isSafeInteger(hash) && hash >= 0, 'a CRC-32 is a uint32');
  return hash;
}

/**
 * Runs in the apply chain, so no batch is half applied: it pins the revision to hash and commits
 * everything applied so far, then lets apply go on while the hash reads the backend (hashKV
 * only reads revisions <= the pinned one, and physical compaction waits for it).
 */
function onHash(msg: HashRequest): void {
  assert.ok(Number.isSafeInteger(msg.revision), 'hash revision is an integer');
  enqueue(async () => {
    if (msg.kv && msg.revision > store.currentRevision) {
      toMain.send({ type: 'hash', id: msg.id, err: EtcdError.of('FutureRev').toData() });
      return;
    }
    const target = msg.revision > 0 ? msg.revision : store.currentRevision;
    const flushed = store.commit();
    finishHash(msg, target, flushed).catch((err) => {
      log.fatal({ err }, 'mvcc: hash failed');
      setImmediate(() => { throw err; });
    });
  });
}

async function finishHash(msg: HashRequest, target: number, flushed: Promise<void>): Promise<void> {
  await flushed;
  assert.ok(store.flushedRevision >= target, `hash at ${target} before it is flushed`);
  try {
    const { hash, compactRevision } = msg.kv
      ? await store.hashKV(target)
      : { hash: await hashBackend(), compactRevision: store.compactRevision };
    toMain.send({ type: 'hash', id: msg.id, hash, compactRevision, header: header(store.currentRevision) });
  } catch (err) {
    if (!(err instanceof EtcdError)) throw err;
    toMain.send({ type: 'hash', id: msg.id, err: err.toData() });
  }
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
    case 'snapshotData':
      enqueue(() => dumpStore(msg.seq));
      return;
    case 'restore':
      enqueue(() => restoreStore(msg.index, msg.data));
      return;
    case 'leadership':
      leases.setLeader(msg.leader, msg.term);
      postLeaseAnswers();
      return;
    case 'cluster':
      enqueue(() => storeIdentity(msg.clusterId, msg.founders));
      return;
    case 'status':
    case 'close':
    case 'readEvents':
    case 'watchStatus':
    case 'hash':
    case 'leaseQuery':
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
    case 'hash':
      onHash(msg);
      return;
    case 'leaseQuery': {
      const answer = leases.query(msg.id, msg.query, store.currentRevision, nowMs());
      if (answer !== undefined) postResults([answer]);
      return;
    }
    case 'apply':
    case 'failReads':
    case 'snapshotData':
    case 'restore':
    case 'leadership':
    case 'cluster':
      assert.fail(`${msg.type} comes from raft, not main`);
      return;
    default:
      assertNever(msg);
  }
});

postLeaseChanges();
setInterval(leaseTick, LEASE_REVOKE_INTERVAL_MS).unref();
toRaft.send({
  type: 'opened', consistentIndex: store.consistentIndex, consistentTerm: store.consistentIndexTerm,
  clusterId: members.clusterId, members: members.list(),
});
