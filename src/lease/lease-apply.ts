// The lessor as the mvcc-apply actor runs it: applying the lease entries of the raft log (grant,
// revoke, checkpoint) to the Lessor and the MVCC store together, persisting lease records in the
// same backend batch as the data, keeping attachments in step with the KV changes, answering the
// lease queries main sends (keep-alive, time-to-live, listing), and, on the leader, finding the
// leases to revoke. The actor file only routes messages here; this keeps the glue testable and
// the worker small.
//
// Persistence: one record per lease in the backend's lease bucket ('l' | 8-byte id, value from
// codec.ts), staged through `MvccStore.stageOps` into the batch of the entry being applied. A
// revoke deletes the record and the lease's keys (in ONE revision, `MvccStore.deleteKeys`) in the
// same batch. Attachments are not stored: `load` re-attaches every live key from its KeyValue's
// lease, so they can never disagree with the KV data after a restart.
//
// Leadership (etcd's promote/demote): raft-node reports "leader at term T"; the lessor is
// promoted when this member applies an entry of term >= T (the new leader's empty entry: every
// entry of earlier terms is applied by then), with the election timeout as extension, so no lease
// expires because of the changeover. "Not leader" demotes at once.
//
// Keep-alives of a lease whose expiry passed are held (bounded) until its revoke is applied
// (answered TTL 0, etcd's "not found" on a keep-alive stream) or this member is demoted
// (answered NotLeader, so the caller retries on the new leader), as etcd's Renew waits.

import assert from 'node:assert/strict';
import { EtcdError } from '../api/errors.js';
import type { ErrorData } from '../api/errors.js';
import type {
  LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse,
  ResponseHeader,
} from '../api/types.js';
import type { Backend, BackendOp } from '../mvcc/backend.js';
import type { MvccEvent, MvccStore } from '../mvcc/store.js';
import { decodeLease, decodeLeaseId, encodeLease, encodeLeaseId } from './codec.js';
import { LEASE_CHECKPOINT_BATCH_MAX, LEASE_REVOKE_BATCH_MAX, Lessor, lessorConfig } from './lessor.js';
import type { LeaseRecord } from './lessor.js';
import type { LeaseRaftRequest } from './requests.js';

/** The lease bucket's prefix byte ('l'): between the key ('k') and meta ('m') buckets. */
export const LEASE_BUCKET_PREFIX = 0x6c;
export const LEASE_BUCKET_GTE = Uint8Array.of(LEASE_BUCKET_PREFIX);
export const LEASE_BUCKET_LT = Uint8Array.of(LEASE_BUCKET_PREFIX + 1);
/** Keep-alives held for leases whose expiry passed; beyond it they are refused (TooManyRequests). */
export const HELD_RENEWALS_MAX = 10_000;

/** A lease query main sends to mvcc-apply (answered by request id, like a read). */
export type LeaseQuery =
  | { kind: 'keepAlive'; ID: bigint }
  | { kind: 'timeToLive'; ID: bigint; keys: boolean }
  | { kind: 'leases' };

/** An answer to a request id: what mvcc-apply posts to main as a result item. */
export type LeaseAnswer = { id: bigint; ok: unknown } | { id: bigint; err: ErrorData };

/** Lease ids that appeared or disappeared, for main's propose-time check of put leases. */
export interface LeaseIdChanges {
  /** The set is replaced (after a load): `granted` is every lease. */
  reset: boolean;
  granted: bigint[];
  revoked: bigint[];
}

export interface LeaseApplierOptions {
  electionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** etcd's --lease-checkpoint-interval equivalent; 0 (etcd 3.4's default) turns it off. */
  checkpointIntervalMs?: number;
  /** Fills a response header (cluster, member, term) for a revision. */
  header: (revision: number) => ResponseHeader;
}

export function leaseBackendKey(id: bigint): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = LEASE_BUCKET_PREFIX;
  out.set(encodeLeaseId(id), 1);
  return out;
}

/** Every lease record in the backend's lease bucket, in key order. */
export async function readLeaseRecords(backend: Backend): Promise<LeaseRecord[]> {
  const out: LeaseRecord[] = [];
  for await (const [k, v] of backend.iterate({ gte: LEASE_BUCKET_GTE, lt: LEASE_BUCKET_LT })) {
    assert.equal(k.length, 9, 'a lease bucket key is the prefix and an 8-byte id');
    const r = decodeLease(v);
    assert.equal(r.id, decodeLeaseId(k.subarray(1)), 'lease record under another id');
    out.push(r);
  }
  return out;
}

export class LeaseApplier {
  readonly lessor: Lessor;
  private readonly extendMs: number;
  /** Raft term at which this member became leader, until the lessor is promoted; else undefined. */
  private promoteAtTerm: number | undefined;
  /** Request ids of keep-alives waiting for the revoke of an expired lease, by lease. */
  private readonly held = new Map<bigint, bigint[]>();
  private heldCount = 0;
  /** Answers produced outside a query (held keep-alives released), for the caller to post. */
  private answers: LeaseAnswer[] = [];
  /** Proposals produced by queries (checkpoint resets after a renew), for the caller to send. */
  private proposals: LeaseRaftRequest[] = [];
  private idChanges: LeaseIdChanges = { reset: false, granted: [], revoked: [] };

  private constructor(private readonly opts: LeaseApplierOptions) {
    this.lessor = new Lessor(lessorConfig({
      electionTimeoutMs: opts.electionTimeoutMs, heartbeatMs: opts.heartbeatIntervalMs,
      ...(opts.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: opts.checkpointIntervalMs } : {}),
    }));
    this.extendMs = opts.electionTimeoutMs;
    assert.ok(this.extendMs > 0);
  }

  /**
   * Restores leases from the backend and re-attaches the store's keys. Returns the applier and
   * how many keys named a lease that does not exist (always 0 unless the data was damaged).
   */
  static async load(backend: Backend, store: MvccStore, opts: LeaseApplierOptions): Promise<{ applier: LeaseApplier; orphanKeys: number }> {
    const applier = new LeaseApplier(opts);
    const orphanKeys = await applier.reload(backend, store);
    return { applier, orphanKeys };
  }

  /** Replaces every lease with the backend's (start-up, or after a snapshot replaced the store). */
  async reload(backend: Backend, store: MvccStore): Promise<number> {
    this.demote();
    this.lessor.restore(await readLeaseRecords(backend));
    let orphanKeys = 0;
    store.forEachLeasedKey((key, lease) => {
      if (this.lessor.exists(lease)) this.lessor.attach(lease, key);
      else orphanKeys += 1;
    });
    store.leaseExists = (id) => this.lessor.exists(id);
    this.idChanges = { reset: true, granted: this.lessor.leases(), revoked: [] };
    return orphanKeys;
  }

  // ---- applying raft entries (every member) ----------------------------------------------

  /** Applies one lease entry; returns its response (throws EtcdError for a client error). */
  apply(r: LeaseRaftRequest, store: MvccStore, nowMs: number): LeaseGrantResponse | LeaseRevokeResponse | undefined {
    if ('leaseGrant' in r) {
      const rec = this.lessor.grant(r.leaseGrant.ID ?? 0n, r.leaseGrant.TTL, nowMs);
      store.stageOps([{ type: 'put', key: leaseBackendKey(rec.id), value: encodeLease(rec) }]);
      this.idChanges.granted.push(rec.id);
      return { header: this.opts.header(store.currentRevision), ID: rec.id, TTL: rec.ttlSec };
    }
    if ('leaseRevoke' in r) {
      const id = r.leaseRevoke.ID;
      if (!this.lessor.exists(id)) throw EtcdError.of('LeaseNotFound');
      const keys = this.lessor.revoke(id);
      store.deleteKeys(keys);
      store.stageOps([{ type: 'del', key: leaseBackendKey(id) }]);
      this.idChanges.revoked.push(id);
      this.releaseHeld(id, store.currentRevision);
      assert.ok(!this.lessor.exists(id));
      return { header: this.opts.header(store.currentRevision) };
    }
    const ops: BackendOp[] = [];
    for (const cp of r.leaseCheckpoint.checkpoints) {
      const rec = this.lessor.checkpoint(cp.ID, cp.remainingTTL, nowMs);
      if (rec !== undefined) ops.push({ type: 'put', key: leaseBackendKey(rec.id), value: encodeLease(rec) });
    }
    store.stageOps(ops);
    return undefined; // checkpoints are proposed by the leader itself: nobody waits for them
  }

  /** Keeps attachments in step with a write txn's changes (the store's onChanges hook). */
  onChanges(events: readonly MvccEvent[]): void {
    for (const e of events) {
      const before = e.prevKv?.lease ?? 0n;
      const after = e.type === 'PUT' ? e.kv.lease : 0n;
      // A revoke's deletes find their lease gone already: detach then changes nothing.
      if (before !== 0n && before !== after) this.lessor.detach(before, e.kv.key);
      if (after !== 0n) this.lessor.attach(after, e.kv.key);
    }
  }

  /** Called for every applied entry, in order: promotes once the new leader's term is reached. */
  onEntryApplied(term: number, nowMs: number): void {
    if (this.promoteAtTerm === undefined || term < this.promoteAtTerm) return;
    this.promoteAtTerm = undefined;
    this.lessor.promote(this.extendMs, nowMs);
    assert.ok(this.lessor.isPrimary);
  }

  // ---- leadership ----------------------------------------------------------------------------

  /** raft-node's report: this member leads at `term` (promote pending), or does not (demote now). */
  setLeader(leader: boolean, term: number): void {
    if (leader) {
      if (!this.lessor.isPrimary) this.promoteAtTerm = term;
      return;
    }
    this.demote();
  }

  private demote(): void {
    this.promoteAtTerm = undefined;
    if (this.lessor.isPrimary) this.lessor.demote();
    const notLeader = EtcdError.of('NotLeader').toData();
    for (const ids of this.held.values()) for (const id of ids) this.answers.push({ id, err: notLeader });
    this.held.clear();
    this.heldCount = 0;
    assert.ok(!this.lessor.isPrimary);
  }

  // ---- queries from main -----------------------------------------------------------------------

  /** Answers a query now, or returns undefined when the answer comes later (a held keep-alive). */
  query(id: bigint, q: LeaseQuery, revision: number, nowMs: number): LeaseAnswer | undefined {
    const h = this.opts.header(revision);
    switch (q.kind) {
      case 'keepAlive':
        return this.keepAlive(id, q.ID, h, nowMs);
      case 'timeToLive': {
        if (!this.lessor.exists(q.ID)) return { id, ok: { header: h, ID: q.ID, TTL: -1, grantedTTL: 0, keys: [] } satisfies LeaseTimeToLiveResponse };
        const t = this.lessor.timeToLive(q.ID, nowMs, q.keys);
        return { id, ok: { header: h, ...t } satisfies LeaseTimeToLiveResponse };
      }
      case 'leases':
        return { id, ok: { header: h, leases: this.lessor.leases().map((ID) => ({ ID })) } satisfies LeaseLeasesResponse };
    }
  }

  private keepAlive(id: bigint, lease: bigint, h: ResponseHeader, nowMs: number): LeaseAnswer | undefined {
    if (!this.lessor.isPrimary) return { id, err: EtcdError.of('NotLeader').toData() };
    // etcd answers an unknown lease on the stream with TTL 0, it does not fail the stream.
    if (!this.lessor.exists(lease)) return { id, ok: { header: h, ID: lease, TTL: 0 } satisfies LeaseKeepAliveResponse };
    const r = this.lessor.renew(lease, nowMs);
    if (r.kind === 'renewed') {
      if (r.proposeCheckpointReset) this.proposals.push({ leaseCheckpoint: { checkpoints: [{ ID: lease, remainingTTL: 0 }] } });
      return { id, ok: { header: h, ID: lease, TTL: r.ttlSec } satisfies LeaseKeepAliveResponse };
    }
    if (this.heldCount >= HELD_RENEWALS_MAX) return { id, err: EtcdError.of('TooManyRequests').toData() };
    const waiting = this.held.get(lease) ?? [];
    waiting.push(id);
    this.held.set(lease, waiting);
    this.heldCount += 1;
    return undefined;
  }

  private releaseHeld(lease: bigint, revision: number): void {
    const ids = this.held.get(lease);
    if (ids === undefined) return;
    this.held.delete(lease);
    this.heldCount -= ids.length;
    assert.ok(this.heldCount >= 0);
    for (const id of ids) this.answers.push({ id, ok: { header: this.opts.header(revision), ID: lease, TTL: 0 } satisfies LeaseKeepAliveResponse });
  }

  // ---- the leader's periodic work --------------------------------------------------------------

  /**
   * What to propose now (leader only): revokes of expired leases (at most LEASE_REVOKE_BATCH_MAX,
   * one request per lease as etcd) and one checkpoint request if checkpoints are due, plus any
   * checkpoint resets the keep-alives asked for.
   */
  tick(nowMs: number): LeaseRaftRequest[] {
    const out = this.proposals;
    this.proposals = [];
    if (!this.lessor.isPrimary) return out;
    for (const ID of this.lessor.expired(nowMs, LEASE_REVOKE_BATCH_MAX)) out.push({ leaseRevoke: { ID } });
    const checkpoints = this.lessor.dueCheckpoints(nowMs, LEASE_CHECKPOINT_BATCH_MAX);
    if (checkpoints.length > 0) out.push({ leaseCheckpoint: { checkpoints } });
    return out;
  }

  /** Answers released since the last call (held keep-alives). */
  takeAnswers(): LeaseAnswer[] {
    const out = this.answers;
    this.answers = [];
    return out;
  }

  /** Lease ids granted and revoked since the last call (all of them after a load). */
  takeIdChanges(): LeaseIdChanges | undefined {
    const c = this.idChanges;
    if (!c.reset && c.granted.length === 0 && c.revoked.length === 0) return undefined;
    this.idChanges = { reset: false, granted: [], revoked: [] };
    return c;
  }
}
