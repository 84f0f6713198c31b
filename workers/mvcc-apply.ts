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
import type { ApplyIn, MainFromApply, RaftFromApply, ReadItem, ResultItem } from '../src/server/messages.js';
import { MvccStore } from '../src/mvcc/store.js';
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
const store = await MvccStore.open(backend);
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
  postResults(results);
  toRaft.send({ type: 'applied', index: appliedIndex });
  scheduleCommit();
  await serveWaitingReads();
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
    case 'apply':
    case 'failReads':
      assert.fail(`${msg.type} comes from raft, not main`);
      return;
    default:
      assertNever(msg);
  }
});

toRaft.send({ type: 'opened', consistentIndex: store.consistentIndex, consistentTerm: store.consistentIndexTerm });
