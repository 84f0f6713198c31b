// MvccStore: etcd's mvcc store, the state machine behind the KV API. The mvcc-apply actor owns
// one, applies committed raft entries to it in order (put, deleteRange, txn, compact, then
// setConsistentIndex with the entry's index) and calls commit() after each apply batch.
//
// Where things live:
// - the backend's key bucket holds every change of every key as one record keyed by its
//   revision (revision.ts); the meta bucket holds the consistent index (last applied raft
//   entry), its term, and the scheduled / finished compaction revisions;
// - in memory, the treeIndex maps each key to its keyIndex (generations of revisions), and each
//   keyIndex also holds the key's latest KeyValue while it exists (`live`). That is our
//   equivalent of etcd's mmap'ed, always-hot bbolt: reads at the current revision, txn
//   compares, prev_kv and ignore_value never touch the backend. Only reads of past revisions
//   do, and they are the only asynchronous operations (range/txn return a Promise then).
//
// Writes apply synchronously in memory and are staged into one pending backend batch together
// with the consistent index; commit() writes that batch atomically (sync:false by default: the
// raft WAL is the durability, a restart replays the WAL from the consistent index, and the batch
// atomicity keeps data and index in agreement, so apply is exactly-once). Commits are written
// one after the other. Records staged or being written stay readable through `unflushed`, an
// overlay dropped once their batch is written.
//
// Revisions follow etcd: a fresh store is at revision 1; each write txn that changes anything
// creates one main revision and numbers its changes with sub revisions 0, 1, ...; a txn or
// delete that changes nothing does not bump it. compactRevision is -1 until the first compaction
// (etcd accepts compact(0) on a fresh store).
//
// Compaction: compact(rev) checks, sets compactRevision, stages scheduledCompactRevision in the
// pending batch and compacts the in-memory index at once (reads below rev fail from then on). The
// physical removal of the records no read needs any more starts once that batch is committed (so
// every record <= rev is in the backend) and once reads of past revisions already running have
// finished; it deletes in bounded batches and then records the finished revision. On open, a
// scheduled revision above the finished one means a removal was interrupted: it is redone.
//
// For the watch hub and maintenance: `onChanges` reports every write txn's changes as it
// applies; readEvents() reads flushed history by revision (catch-up); hashKV() is etcd's HashKV.
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import type {
  DeleteRangeRequest, DeleteRangeResponse, KeyValue, PutRequest, PutResponse, RangeRequest, RangeResponse,
  RequestOp, ResponseOp, TxnRequest, TxnResponse,
} from '../api/types.js';
import { EtcdError } from '../api/errors.js';
import type { Backend, BackendOp } from './backend.js';
import type { KeyIndex } from './key-index.js';
import { decodeKeyValue, encodeKeyValue, tombstoneKeyValue } from './kv-codec.js';
import { compareHolds, finishRange, header, rangeFetchLimit } from './range-eval.js';
import {
  KEY_BUCKET_GTE, KEY_BUCKET_LT, KEY_BUCKET_PREFIX, META_BUCKET_PREFIX, decodeMetaValue, encodeMetaValue, metaKey, parseRevKey, revId, revKey,
  revKeyAfterMain, type Revision,
} from './revision.js';
import { TreeIndex, keyString, normalizeRangeEnd } from './tree-index.js';
import { MAX_TXN_OPS_DEFAULT, validateDeleteRange, validatePut, validateRange, validateTxn } from './validate.js';

/** Records deleted per backend batch by a compaction (etcd's compaction batch limit). */
export const COMPACTION_BATCH_RECORDS_MAX = 1000;
/** Staged bytes past which `needsCommit` asks the caller to commit before applying more. */
export const PENDING_BATCH_BYTES_SOFT_MAX = 64 * 1024 * 1024;
/** Approximate per-record overhead of a staged record beyond its encoded value (key + op). */
const STAGED_RECORD_OVERHEAD_BYTES = 64;

const META_CONSISTENT_INDEX = metaKey('consistent_index');
const META_CONSISTENT_TERM = metaKey('consistent_term');
const META_SCHEDULED_COMPACT = metaKey('scheduledCompactRev');
const META_FINISHED_COMPACT = metaKey('finishedCompactRev');

/** One change made by a write txn, in the shape watch events need. */
export interface MvccEvent {
  type: 'PUT' | 'DELETE';
  /** For a DELETE: the key with mod_revision set to the deleting revision, the rest zero. */
  kv: KeyValue;
  /** The key's KeyValue before this change, if it existed. */
  prevKv: KeyValue | undefined;
}

export interface MvccStoreOptions {
  /** etcd's --max-txn-ops. */
  maxTxnOps?: number;
  /** Whether a lease exists (the lessor plugs in here); without it every non-zero lease is missing. */
  leaseExists?: (id: bigint) => boolean;
  /** Called at the end of every write txn that changed something, with the new revision. */
  onChanges?: (events: readonly MvccEvent[], revision: number) => void;
  /** fsync every commit (the raft WAL already makes applies durable; default false). */
  syncCommits?: boolean;
}

interface PendingCompaction {
  revision: number;
  keep: Set<string>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** What the next commit() writes. */
interface StagedBatch {
  ops: BackendOp[];
  /** Overlay entries (revIds) to drop once this batch is written. */
  overlayIds: string[];
  consistent: { index: number; term: number } | undefined;
  compactions: PendingCompaction[];
  bytes: number;
  /** The highest main revision staged in this batch (0: none). */
  lastMain: number;
}

/** An open write transaction: its changes get main revision beginRev + 1. */
interface WriteTxn {
  beginRev: number;
  changes: MvccEvent[];
}

/** The branch a txn takes, decided before any of its ops runs (etcd's compareToPath). */
interface TxnPath {
  succeeded: boolean;
  /** One per requestTxn op of the taken branch, in order. */
  nested: TxnPath[];
}

function emptyBatch(): StagedBatch {
  return { ops: [], overlayIds: [], consistent: undefined, compactions: [], bytes: 0, lastMain: 0 };
}

export class MvccStore {
  private readonly index = new TreeIndex();
  /** The latest revision; strictly increases, by one per changing write txn. */
  private currentRev = 1;
  /** -1 until the first compaction; never goes back; <= currentRev. */
  private compactRev = -1;
  /** The raft index of the last applied entry (0: none); never goes back. */
  private consistentIdx = 0;
  private consistentTerm = 0;
  private pending: StagedBatch = emptyBatch();
  /** Every record of a main revision <= this is in the backend; <= currentRev. */
  private flushedRev = 1;
  /** Records staged or being written, by revId, so reads of past revisions still find them. */
  private readonly unflushed = new Map<string, KeyValue>();
  /** Resolves when every commit issued so far is written; rejected for good after a failure. */
  private commitTail: Promise<void> = Promise.resolve();
  private compactionTail: Promise<void> = Promise.resolve();
  /** Reads of past revisions in flight (a physical compaction waits for them). */
  private readonly historicalReads = new Set<Promise<unknown>>();
  private activeWrite: WriteTxn | undefined = undefined;
  private failure: unknown = undefined;
  private readonly maxTxnOps: number;
  private readonly syncCommits: boolean;
  private readonly onChanges: ((events: readonly MvccEvent[], revision: number) => void) | undefined;
  /** The lessor's lookup; replaceable once a lessor exists. */
  leaseExists: (id: bigint) => boolean;

  private constructor(private readonly backend: Backend, opts: MvccStoreOptions) {
    this.maxTxnOps = opts.maxTxnOps ?? MAX_TXN_OPS_DEFAULT;
    this.syncCommits = opts.syncCommits ?? false;
    this.onChanges = opts.onChanges;
    this.leaseExists = opts.leaseExists ?? (() => false);
  }

  /** Opens a store over `backend`, rebuilding the index and finishing an interrupted compaction. */
  static async open(backend: Backend, opts: MvccStoreOptions = {}): Promise<MvccStore> {
    const store = new MvccStore(backend, opts);
    await store.restore();
    return store;
  }

  get currentRevision(): number { return this.currentRev; }
  get compactRevision(): number { return this.compactRev; }
  get consistentIndex(): number { return this.consistentIdx; }
  get consistentIndexTerm(): number { return this.consistentTerm; }
  /** Every change up to this revision is written to the backend (readEvents reads up to it). */
  get flushedRevision(): number { return this.flushedRev; }
  /** Number of keys in the index (live or with history). */
  get indexedKeyCount(): number { return this.index.size; }
  /** Bytes staged for the next commit. */
  get pendingBytes(): number { return this.pending.bytes; }
  /** True when the caller should commit before applying more (bounds the pending batch). */
  get needsCommit(): boolean { return this.pending.bytes >= PENDING_BATCH_BYTES_SOFT_MAX; }

  dbSizeBytes(): number {
    return this.backend.approximateSizeBytes();
  }

  // ---- writes ------------------------------------------------------------------------------

  put(req: PutRequest): PutResponse {
    this.assertUsable();
    validatePut(req);
    const lease = req.lease ?? 0n;
    if (lease !== 0n && !this.leaseExists(lease)) throw EtcdError.of('LeaseNotFound');
    const w = this.beginWrite();
    try {
      return this.applyPut(w, req);
    } finally {
      this.endWrite(w);
    }
  }

  deleteRange(req: DeleteRangeRequest): DeleteRangeResponse {
    this.assertUsable();
    validateDeleteRange(req);
    const w = this.beginWrite();
    try {
      return this.applyDelete(w, req);
    } finally {
      this.endWrite(w);
    }
  }

  /**
   * Deletes exactly `keys` (those that exist) in ONE revision: a lease revoke, whose keys etcd
   * deletes in one txn whatever their number (so --max-txn-ops does not apply).
   */
  deleteKeys(keys: readonly Uint8Array[]): DeleteRangeResponse {
    this.assertUsable();
    const w = this.beginWrite();
    try {
      for (const key of keys) this.applyDelete(w, { key });
      assert.ok(w.changes.length <= keys.length, 'a key deleted twice');
      return { header: header(w.changes.length > 0 ? w.beginRev + 1 : w.beginRev), deleted: w.changes.length, prevKvs: [] };
    } finally {
      this.endWrite(w);
    }
  }

  /**
   * Stages backend ops of another bucket (the lessor's records) into the batch being built, so
   * they are written atomically with the data and consistent index of the entry being applied.
   */
  stageOps(ops: readonly BackendOp[]): void {
    this.assertUsable();
    for (const op of ops) {
      assert.ok(op.key.length > 0 && op.key[0] !== KEY_BUCKET_PREFIX && op.key[0] !== META_BUCKET_PREFIX, 'stageOps is for other buckets');
      this.pending.ops.push(op);
      this.pending.bytes += op.key.length + (op.type === 'put' ? op.value.length : 0) + STAGED_RECORD_OVERHEAD_BYTES;
    }
  }

  /** Every live key with a lease, at the current revision (the lessor re-attaches them on open). */
  forEachLeasedKey(fn: (key: Uint8Array, lease: bigint) => void): void {
    this.index.forEach((_, ki) => {
      if (ki.live !== undefined && ki.live.lease !== 0n) fn(ki.live.key, ki.live.lease);
    });
  }

  /** Synchronous unless a range in the taken branch reads a past revision from the backend. */
  txn(req: TxnRequest): TxnResponse | Promise<TxnResponse> {
    this.assertUsable();
    validateTxn(req, this.maxTxnOps);
    const path = this.comparePath(req);
    this.checkPath(req, path, (op) => this.checkPut(op));
    this.checkPath(req, path, (op) => this.checkRange(op));
    const w = this.beginWrite();
    const waits: Array<Promise<void>> = [];
    let responses: ResponseOp[];
    try {
      responses = this.applyOps(w, req, path, waits);
    } catch (err) {
      // The checks above make every op of the path succeed; a throw after a change would leave
      // a half-applied txn, so the store stops (the actor crashes and replays from the WAL).
      if (w.changes.length > 0) this.failure ??= err;
      throw err;
    } finally {
      this.endWrite(w);
    }
    const resp: TxnResponse = { header: header(this.currentRev), succeeded: path.succeeded, responses };
    return waits.length === 0 ? resp : Promise.all(waits).then(() => resp);
  }

  /** Records the raft entry just applied; staged in the same batch as the data it produced. */
  setConsistentIndex(index: number, term: number): void {
    this.assertUsable();
    assert.ok(Number.isSafeInteger(index) && index >= this.consistentIdx, `consistent index ${index} < ${this.consistentIdx}`);
    assert.ok(Number.isSafeInteger(term) && term >= this.consistentTerm, `consistent term ${term} < ${this.consistentTerm}`);
    this.consistentIdx = index;
    this.consistentTerm = term;
    this.pending.consistent = { index, term };
  }

  /**
   * Compacts history up to `revision`. Throws Compacted / FutureRev at once. `done` resolves
   * when the records are physically removed, which starts after the next commit().
   */
  compact(revision: number): { done: Promise<void> } {
    this.assertUsable();
    // No assert on the value: it comes from a client (a huge int64 arrives as an unsafe number).
    if (revision <= this.compactRev) throw EtcdError.of('Compacted');
    if (revision > this.currentRev) throw EtcdError.of('FutureRev');
    this.compactRev = revision;
    const keep = this.compactIndex(revision);
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    this.pending.compactions.push({ revision, keep, resolve, reject });
    return { done };
  }

  /** Writes everything staged so far as one atomic batch; resolves when it is written. */
  commit(): Promise<void> {
    this.assertUsable();
    const batch = this.pending;
    if (batch.ops.length === 0 && batch.consistent === undefined && batch.compactions.length === 0) {
      return this.commitTail;
    }
    this.pending = emptyBatch();
    const ops = batch.ops;
    if (batch.consistent !== undefined) {
      ops.push({ type: 'put', key: META_CONSISTENT_INDEX, value: encodeMetaValue(batch.consistent.index) });
      ops.push({ type: 'put', key: META_CONSISTENT_TERM, value: encodeMetaValue(batch.consistent.term) });
    }
    const lastCompaction = batch.compactions[batch.compactions.length - 1];
    if (lastCompaction !== undefined) {
      ops.push({ type: 'put', key: META_SCHEDULED_COMPACT, value: encodeMetaValue(lastCompaction.revision) });
    }
    const written = this.commitTail.then(() => this.backend.write(ops, { sync: this.syncCommits }));
    this.commitTail = written.then(() => {
      for (const id of batch.overlayIds) this.unflushed.delete(id);
      if (batch.lastMain > this.flushedRev) this.flushedRev = batch.lastMain;
      for (const c of batch.compactions) this.startPhysicalCompaction(c);
    }, (err: unknown) => {
      this.failure ??= err;
      for (const c of batch.compactions) c.reject(err);
      throw err;
    });
    return this.commitTail;
  }

  /** Waits for every commit and compaction issued so far (then the backend may be closed). */
  async drain(): Promise<void> {
    await this.commitTail;
    await this.compactionTail;
  }

  /** Drains, then closes the backend. Whatever was staged and not committed is dropped. */
  async close(): Promise<void> {
    await this.drain().catch(() => undefined);
    await this.backend.close();
  }

  /**
   * etcd's HashKV: a CRC-32 over the records a store at `revision` (0: current) must hold, the
   * ones of revisions in (compactRevision, revision] plus those the last compaction kept, so two
   * members that applied the same entries agree whatever their physical compaction progress.
   * Errors as etcd's: Compacted when revision <= compactRevision, FutureRev past the current.
   * Records must be flushed up to `revision` (commit first).
   */
  async hashKV(revision: number): Promise<{ hash: number; revision: number; compactRevision: number }> {
    this.assertUsable();
    if (revision > 0 && revision <= this.compactRev) throw EtcdError.of('Compacted');
    if (revision > this.currentRev) throw EtcdError.of('FutureRev');
    const rev = revision <= 0 ? this.currentRev : revision;
    assert.ok(rev <= this.flushedRev, `hashKV(${rev}) beyond the flushed revision ${this.flushedRev}`);
    const compactRev = this.compactRev;
    const kept = new Set<string>();
    this.index.forEach((_, ki) => {
      const first = ki.generations[0]?.revs[0];
      if (first !== undefined && first.main <= compactRev) kept.add(revId(first.main, first.sub));
    });
    let hash = 0;
    const read = (async (): Promise<void> => {
      for await (const [k, v] of this.backend.iterate({ gte: KEY_BUCKET_GTE, lt: revKeyAfterMain(rev) })) {
        const { rev: r } = parseRevKey(k);
        if (r.main <= compactRev && !kept.has(revId(r.main, r.sub))) continue;
        hash = crc32(v, crc32(k, hash));
      }
    })();
    this.historicalReads.add(read);
    try {
      await read;
    } finally {
      this.historicalReads.delete(read);
    }
    return { hash, revision: this.currentRev, compactRevision: compactRev };
  }

  // ---- reads -------------------------------------------------------------------------------

  /** Synchronous at the current revision and whenever no past record must be read. */
  range(req: RangeRequest): RangeResponse | Promise<RangeResponse> {
    this.assertUsable();
    validateRange(req);
    return this.rangeAt(req, this.currentRev);
  }

  /** The KeyValue of `key` at the current revision, if it exists (no copy: do not mutate). */
  getLatest(key: Uint8Array): KeyValue | undefined {
    return this.index.get(keyString(key))?.live;
  }

  /**
   * The changes of revisions fromRev..toRev in revision order, read from the backend (watch
   * catch-up; live changes come from `onChanges`). Stops after the revision where `maxEvents` is
   * reached, never splitting a revision; `nextRev` is where to continue. prevKv is not filled.
   * Throws Compacted below the compact revision; toRev must be <= flushedRevision.
   */
  async readEvents(fromRev: number, toRev: number, maxEvents: number): Promise<{ events: MvccEvent[]; nextRev: number }> {
    this.assertUsable();
    assert.ok(fromRev >= 1 && toRev <= this.flushedRev && maxEvents > 0, `readEvents(${fromRev}, ${toRev}) beyond ${this.flushedRev}`);
    if (fromRev < this.compactRev) throw EtcdError.of('Compacted');
    const events: MvccEvent[] = [];
    let nextRev = toRev + 1;
    const read = (async (): Promise<void> => {
      if (fromRev > toRev) return;
      for await (const [k, v] of this.backend.iterate({ gte: revKey({ main: fromRev, sub: 0 }, false), lt: revKeyAfterMain(toRev) })) {
        const { rev, tombstone } = parseRevKey(k);
        if (events.length >= maxEvents && rev.main !== events[events.length - 1]!.kv.modRevision) {
          nextRev = rev.main;
          return;
        }
        const kv = decodeKeyValue(v);
        events.push(tombstone ? { type: 'DELETE', kv: { ...kv, modRevision: rev.main }, prevKv: undefined } : { type: 'PUT', kv, prevKv: undefined });
      }
    })();
    this.historicalReads.add(read);
    try {
      await read;
    } finally {
      this.historicalReads.delete(read);
    }
    return { events, nextRev };
  }

  private rangeAt(req: RangeRequest, curRev: number): RangeResponse | Promise<RangeResponse> {
    let rev = req.revision ?? 0;
    if (rev > curRev) throw EtcdError.of('FutureRev');
    if (rev <= 0) rev = curRev;
    if (rev < this.compactRev) throw EtcdError.of('Compacted');
    const key = keyString(req.key);
    const end = normalizeRangeEnd(req.rangeEnd);
    const latest = rev === curRev;
    if (req.countOnly === true) {
      let count = 0;
      this.index.visit(key, end, (_, ki) => { if (latest ? ki.live !== undefined : ki.get(rev) !== undefined) count++; });
      return finishRange(req, [], count, curRev);
    }
    const fetchLimit = rangeFetchLimit(req);
    const slots: Array<KeyValue | undefined> = [];
    const missing: Array<{ slot: number; rev: Revision; ki: KeyIndex }> = [];
    let count = 0;
    this.index.visit(key, end, (_, ki) => {
      if (latest) {
        if (ki.live === undefined) return;
        count++;
        if (fetchLimit === 0 || slots.length < fetchLimit) slots.push(ki.live);
        return;
      }
      const at = ki.get(rev);
      if (at === undefined) return;
      count++;
      if (fetchLimit !== 0 && slots.length >= fetchLimit) return;
      const kv = ki.live?.modRevision === at.modified.main ? ki.live : this.unflushed.get(revId(at.modified.main, at.modified.sub));
      if (kv === undefined) missing.push({ slot: slots.length, rev: at.modified, ki });
      slots.push(kv);
    });
    if (missing.length === 0) return finishRange(req, slots as KeyValue[], count, curRev);
    const read = this.fetchRecords(slots, missing).then(() => finishRange(req, slots as KeyValue[], count, curRev));
    this.historicalReads.add(read);
    const untrack = (): void => { this.historicalReads.delete(read); };
    read.then(untrack, untrack);
    return read;
  }

  private async fetchRecords(slots: Array<KeyValue | undefined>, missing: Array<{ slot: number; rev: Revision; ki: KeyIndex }>): Promise<void> {
    const values = await this.backend.getMany(missing.map((m) => revKey(m.rev, false)));
    assert.equal(values.length, missing.length);
    for (let i = 0; i < missing.length; i++) {
      const m = missing[i]!;
      const bytes = values[i];
      // A physical compaction waits for reads in flight, so an indexed record is always there.
      assert.ok(bytes !== undefined, `record ${m.rev.main}.${m.rev.sub} missing from the backend`);
      const kv = decodeKeyValue(bytes);
      assert.equal(kv.modRevision, m.rev.main, 'record does not match its revision');
      assert.equal(keyString(kv.key), keyString(m.ki.key), 'record does not match its key');
      slots[m.slot] = kv;
    }
  }

  // ---- txn internals -----------------------------------------------------------------------

  private liveKvs(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyValue[] {
    const out: KeyValue[] = [];
    this.index.visit(keyString(key), normalizeRangeEnd(rangeEnd), (_, ki) => { if (ki.live !== undefined) out.push(ki.live); });
    return out;
  }

  private comparePath(req: TxnRequest): TxnPath {
    const succeeded = req.compare.every((c) => compareHolds(c, this.liveKvs(c.key, c.rangeEnd)));
    const nested: TxnPath[] = [];
    for (const op of succeeded ? req.success : req.failure) {
      if ('requestTxn' in op) nested.push(this.comparePath(op.requestTxn));
    }
    return { succeeded, nested };
  }

  /** Runs `check` on every non-txn op of the taken branches (etcd's checkRequests). */
  private checkPath(req: TxnRequest, path: TxnPath, check: (op: RequestOp) => void): void {
    let nestedIdx = 0;
    for (const op of path.succeeded ? req.success : req.failure) {
      if ('requestTxn' in op) {
        const sub = path.nested[nestedIdx++];
        assert.ok(sub !== undefined);
        this.checkPath(op.requestTxn, sub, check);
      } else {
        check(op);
      }
    }
  }

  private checkPut(op: RequestOp): void {
    if (!('requestPut' in op)) return;
    const req = op.requestPut;
    if ((req.ignoreValue === true || req.ignoreLease === true) && this.getLatest(req.key) === undefined) {
      throw EtcdError.of('KeyNotFound');
    }
    const lease = req.lease ?? 0n;
    if (lease !== 0n && !this.leaseExists(lease)) throw EtcdError.of('LeaseNotFound');
  }

  private checkRange(op: RequestOp): void {
    if (!('requestRange' in op)) return;
    const rev = op.requestRange.revision ?? 0;
    if (rev === 0) return;
    if (rev > this.currentRev) throw EtcdError.of('FutureRev');
    if (rev < this.compactRev) throw EtcdError.of('Compacted');
  }

  private applyOps(w: WriteTxn, req: TxnRequest, path: TxnPath, waits: Array<Promise<void>>): ResponseOp[] {
    let nestedIdx = 0;
    return (path.succeeded ? req.success : req.failure).map((op): ResponseOp => {
      if ('requestRange' in op) {
        const r = this.rangeAt(op.requestRange, w.beginRev + (w.changes.length > 0 ? 1 : 0));
        if (!(r instanceof Promise)) return { responseRange: r };
        const slot = { responseRange: undefined as unknown as RangeResponse };
        waits.push(r.then((resp) => { slot.responseRange = resp; }));
        return slot;
      }
      if ('requestPut' in op) return { responsePut: this.applyPut(w, op.requestPut) };
      if ('requestDeleteRange' in op) return { responseDeleteRange: this.applyDelete(w, op.requestDeleteRange) };
      const sub = path.nested[nestedIdx++];
      assert.ok(sub !== undefined);
      const responses = this.applyOps(w, op.requestTxn, sub, waits);
      // etcd leaves a nested txn's header empty.
      return { responseTxn: { header: header(0), succeeded: sub.succeeded, responses } };
    });
  }

  // ---- write primitives --------------------------------------------------------------------

  private beginWrite(): WriteTxn {
    assert.equal(this.activeWrite, undefined, 'nested write txn');
    const w: WriteTxn = { beginRev: this.currentRev, changes: [] };
    this.activeWrite = w;
    return w;
  }

  private endWrite(w: WriteTxn): void {
    assert.equal(this.activeWrite, w);
    this.activeWrite = undefined;
    if (w.changes.length === 0) return;
    assert.equal(this.currentRev, w.beginRev);
    this.currentRev = w.beginRev + 1;
    this.onChanges?.(w.changes, this.currentRev);
  }

  private applyPut(w: WriteTxn, req: PutRequest): PutResponse {
    const keyStr = keyString(req.key);
    const prev = this.index.get(keyStr)?.live;
    if ((req.ignoreValue === true || req.ignoreLease === true) && prev === undefined) throw EtcdError.of('KeyNotFound');
    const value = req.ignoreValue === true ? prev!.value : req.value;
    const lease = req.ignoreLease === true ? prev!.lease : req.lease ?? 0n;
    const main = w.beginRev + 1;
    const sub = w.changes.length;
    const ki = this.index.getOrCreate(keyStr, req.key);
    const kv: KeyValue = {
      key: ki.key, value, lease, modRevision: main,
      createRevision: prev === undefined ? main : prev.createRevision,
      version: prev === undefined ? 1 : prev.version + 1,
    };
    assert.ok(prev === undefined || prev.modRevision < main, 'put does not advance the key');
    ki.put(main, sub);
    ki.live = kv;
    this.stageRecord(main, sub, false, kv);
    w.changes.push({ type: 'PUT', kv, prevKv: prev });
    const resp: PutResponse = { header: header(main) };
    if (req.prevKv === true && prev !== undefined) resp.prevKv = prev;
    return resp;
  }

  private applyDelete(w: WriteTxn, req: DeleteRangeRequest): DeleteRangeResponse {
    const doomed: KeyIndex[] = [];
    this.index.visit(keyString(req.key), normalizeRangeEnd(req.rangeEnd), (_, ki) => { if (ki.live !== undefined) doomed.push(ki); });
    const prevKvs: KeyValue[] = [];
    const main = w.beginRev + 1;
    for (const ki of doomed) {
      const prev = ki.live!;
      if (req.prevKv === true) prevKvs.push(prev);
      const sub = w.changes.length;
      ki.tombstone(main, sub);
      const tomb = tombstoneKeyValue(ki.key);
      this.stageRecord(main, sub, true, tomb);
      w.changes.push({ type: 'DELETE', kv: { ...tomb, modRevision: main }, prevKv: prev });
    }
    const rev = w.changes.length > 0 ? main : w.beginRev;
    return { header: header(rev), deleted: doomed.length, prevKvs };
  }

  private stageRecord(main: number, sub: number, tombstone: boolean, kv: KeyValue): void {
    const value = encodeKeyValue(kv);
    this.pending.ops.push({ type: 'put', key: revKey({ main, sub }, tombstone), value });
    this.pending.bytes += value.length + STAGED_RECORD_OVERHEAD_BYTES;
    this.pending.lastMain = main;
    if (tombstone) return; // reads never fetch a tombstone's record
    const id = revId(main, sub);
    this.unflushed.set(id, kv);
    this.pending.overlayIds.push(id);
  }

  private assertUsable(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  // ---- compaction and restore --------------------------------------------------------------

  /** Compacts the in-memory index; returns the revisions whose records must stay. */
  private compactIndex(revision: number): Set<string> {
    const keep = new Set<string>();
    const empty: string[] = [];
    this.index.forEach((k, ki) => {
      ki.compact(revision, keep);
      if (ki.isEmpty()) empty.push(k);
    });
    for (const k of empty) this.index.delete(k);
    return keep;
  }

  private startPhysicalCompaction(c: PendingCompaction): void {
    const reads = [...this.historicalReads];
    const job = this.compactionTail
      .then(() => Promise.allSettled(reads))
      .then(() => this.removeCompacted(c.revision, c.keep));
    job.then(c.resolve, (err: unknown) => { this.failure ??= err; c.reject(err); });
    this.compactionTail = job.catch(() => undefined);
  }

  /** Deletes every record <= revision that is not kept, then records the compaction finished. */
  private async removeCompacted(revision: number, keep: Set<string>): Promise<void> {
    let dels: BackendOp[] = [];
    for await (const [k] of this.backend.iterate({ gte: KEY_BUCKET_GTE, lt: revKeyAfterMain(revision) })) {
      const { rev } = parseRevKey(k);
      assert.ok(rev.main <= revision);
      if (keep.has(revId(rev.main, rev.sub))) continue;
      dels.push({ type: 'del', key: k });
      if (dels.length >= COMPACTION_BATCH_RECORDS_MAX) {
        await this.backend.write(dels, { sync: false });
        dels = [];
      }
    }
    dels.push({ type: 'put', key: META_FINISHED_COMPACT, value: encodeMetaValue(revision) });
    await this.backend.write(dels, { sync: false });
  }

  private async restore(): Promise<void> {
    const metas = await this.backend.getMany([META_CONSISTENT_INDEX, META_CONSISTENT_TERM, META_FINISHED_COMPACT, META_SCHEDULED_COMPACT]);
    const meta = (i: number, absent: number): number => {
      const b = metas[i];
      return b === undefined ? absent : decodeMetaValue(b);
    };
    this.consistentIdx = meta(0, 0);
    this.consistentTerm = meta(1, 0);
    const finished = meta(2, -1);
    const scheduled = meta(3, -1);
    let maxMain = 0;
    for await (const [k, v] of this.backend.iterate({ gte: KEY_BUCKET_GTE, lt: KEY_BUCKET_LT })) {
      const { rev, tombstone } = parseRevKey(k);
      assert.ok(rev.main >= maxMain, 'records out of revision order');
      maxMain = rev.main;
      this.restoreRecord(rev, tombstone, decodeKeyValue(v));
    }
    this.compactRev = finished;
    // Compaction may have removed the newest records (tombstones), never the revision itself.
    this.currentRev = Math.max(1, maxMain, finished, scheduled);
    this.flushedRev = this.currentRev;
    if (scheduled > finished) {
      this.compactRev = scheduled;
      await this.removeCompacted(scheduled, this.compactIndex(scheduled));
    }
  }

  private restoreRecord(rev: Revision, tombstone: boolean, kv: KeyValue): void {
    const keyStr = keyString(kv.key);
    if (tombstone) {
      // A tombstone whose generation's puts were compacted away (interrupted removal) is skipped.
      const ki = this.index.get(keyStr);
      if (ki?.live !== undefined) ki.tombstone(rev.main, rev.sub);
      return;
    }
    assert.equal(kv.modRevision, rev.main, 'record does not match its revision');
    const ki = this.index.getOrCreate(keyStr, kv.key);
    const prev = ki.live;
    if (prev === undefined) {
      ki.restore({ main: kv.createRevision, sub: 0 }, rev, kv.version);
    } else {
      assert.equal(kv.version, prev.version + 1, 'versions of a generation are consecutive');
      assert.equal(kv.createRevision, prev.createRevision, 'a generation has one create revision');
      ki.put(rev.main, rev.sub);
    }
    ki.live = kv;
  }
}
