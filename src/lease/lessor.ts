// The lessor: every lease of a member, the keys attached to each, and (on the leader only) when
// each one expires. It lives inside the mvcc-apply actor, which calls it while applying committed
// entries (grant, revoke, checkpoint, puts and deletes that attach and detach keys), and on the
// leader also to answer keep-alives (`renew`) and to find leases to revoke (`expired`).
//
// Pure and deterministic: no timers, no clock, no randomness. Every method that needs "now"
// takes `nowMs`; ids for ID-0 grants come from `chooseId(rng)` with an injected RNG.
//
// Roles (etcd's primary lessor): only the leader keeps expiry clocks. A follower's leases never
// expire (expiryMs = Infinity) and it refuses renewals (NotLeader: the caller forwards). When a
// member becomes leader and has applied everything from earlier terms (etcd: on applying the
// leader's empty entry of its term, with extendMs = the election timeout), the caller runs
// `promote(extendMs, nowMs)`: every lease restarts its clock from its remaining TTL (the last
// checkpoint, else the granted TTL) plus extendMs, so no lease expires because of the
// changeover; a pile-up of equal expiries is spread (spread.ts). `demote()` drops all clocks.
//
// Expiry: one timer per lease on a min-heap with lazy deletion (time-heap.ts): a renew only moves
// the timer's target (no heap work), the entry is re-armed when it surfaces. `expired()` pops only
// due entries, hands out at most `maxBatch` leases per call (etcd revokes at most
// leaseRevokeRate = 1000/s, 500 per 500 ms run) and pops at most EXPIRED_POPS_PER_CALL_MAX
// entries, so 100,000 idle leases cost one peek and a burst is handed out in bounded slices
// (`hasExpired()` tells the caller to come back soon rather than at the next period). A lease handed out is "revoking": it is not handed
// out again until its revoke is applied (the lease disappears) or a promote restarts its clock,
// but if the revoke never lands (lost proposal, leader change) it is handed out again after
// `revokeRetryMs` (etcd's expired-lease retry interval, its request timeout).
//
// Renewing a lease whose expiry has passed does not revive it (etcd waits for the pending revoke
// and then answers "not found"): `renew` answers `{ kind: 'expired' }` and the caller holds the
// keep-alive until the revoke is applied (answer TTL 0) or the member is demoted (NotLeader).
//
// Checkpoints (etcd's lease checkpointing, off when checkpointIntervalMs is 0): the leader
// periodically proposes each long lease's remaining TTL (`dueCheckpoints`), every member applies
// it (`checkpoint`) and persists it, so a new leader restarts the clock from the remaining TTL
// instead of the full TTL. A renew clears the checkpoint and asks the caller to propose the reset.

import assert from 'node:assert/strict';
import { EtcdError } from '../api/errors.js';
import { assertLeaseRecord, MAX_LEASE_TTL_SEC, type LeaseRecord } from './codec.js';
import { isInt64, randomLeaseId, type Rng32 } from './lease-id.js';
import type { LeaseCheckpoint } from './requests.js';
import { spreadExpiries } from './spread.js';
import { newTimer, TimerQueue, type Timer } from './time-heap.js';

export { MAX_LEASE_TTL_SEC, type LeaseRecord } from './codec.js';

/** etcd's leaseRevokeRate: leases revoked per second at most. */
export const LEASE_REVOKE_RATE_PER_SEC = 1000;
/** etcd runs its expiry check every 500 ms; the caller should call `expired()` at this period. */
export const LEASE_REVOKE_INTERVAL_MS = 500;
/** Leases handed out by one `expired()` call by default (etcd: leaseRevokeRate / 2). */
export const LEASE_REVOKE_BATCH_MAX = (LEASE_REVOKE_RATE_PER_SEC * LEASE_REVOKE_INTERVAL_MS) / 1000;
/** Heap pops one `expired()` call may spend (live, re-armed or dead): bounds one call's work. */
export const EXPIRED_POPS_PER_CALL_MAX = 8 * LEASE_REVOKE_BATCH_MAX;
/** Expiries promote() lets fall in one second (etcd: 3/4 of the revoke rate). */
export const PROMOTE_EXPIRIES_PER_SEC_MAX = (3 * LEASE_REVOKE_RATE_PER_SEC) / 4;
/** etcd's defaultLeaseCheckpointInterval, when checkpointing is on. */
export const LEASE_CHECKPOINT_INTERVAL_MS_DEFAULT = 5 * 60_000;
/** etcd's maxLeaseCheckpointBatchSize: checkpoints handed out per `dueCheckpoints()` call. */
export const LEASE_CHECKPOINT_BATCH_MAX = 1000;
/** Ids `chooseId` tries before giving up (each collides with probability n / 2^63). */
const CHOOSE_ID_ATTEMPTS_MAX = 16;

export interface LessorConfig {
  /** Smallest TTL granted, seconds: see `minLeaseTtlSec`. */
  minTtlSec: number;
  /** How long a lease handed out by `expired()` waits before it is handed out again, ms. */
  revokeRetryMs: number;
  /** Period of remaining-TTL checkpoints, ms; 0 turns checkpointing off (etcd 3.4's default). */
  checkpointIntervalMs: number;
}

/**
 * etcd's minimum lease TTL: 1.5 election timeouts, counted in whole heartbeats and rounded up to
 * a second (`(3 * electionTicks / 2) * heartbeat`, integer division). etcd's defaults (heartbeat
 * 100 ms, election 1000 ms) give 2 s.
 */
export function minLeaseTtlSec(electionTimeoutMs: number, heartbeatMs: number): number {
  assert.ok(heartbeatMs > 0 && electionTimeoutMs >= heartbeatMs, `election ${electionTimeoutMs} ms, heartbeat ${heartbeatMs} ms`);
  const electionTicks = Math.floor(electionTimeoutMs / heartbeatMs);
  const minMs = Math.floor((3 * electionTicks) / 2) * heartbeatMs;
  return Math.ceil(minMs / 1000);
}

/** etcd's retry interval for unrevoked expired leases: its request timeout, 5 s + 2 elections. */
export function expiredLeaseRetryMs(electionTimeoutMs: number, heartbeatMs: number): number {
  assert.ok(heartbeatMs > 0 && electionTimeoutMs >= heartbeatMs);
  return 5000 + 2 * Math.floor(electionTimeoutMs / heartbeatMs) * heartbeatMs;
}

export function lessorConfig(o: { electionTimeoutMs: number; heartbeatMs: number; checkpointIntervalMs?: number }): LessorConfig {
  return {
    minTtlSec: minLeaseTtlSec(o.electionTimeoutMs, o.heartbeatMs),
    revokeRetryMs: expiredLeaseRetryMs(o.electionTimeoutMs, o.heartbeatMs),
    checkpointIntervalMs: o.checkpointIntervalMs ?? 0,
  };
}

/** A read-only look at one lease. */
export interface LeaseView {
  id: bigint;
  ttlSec: number;
  remainingTtlSec: number;
  /** Infinity on a follower. */
  expiryMs: number;
  revoking: boolean;
  keyCount: number;
}

/** LeaseTimeToLiveResponse without its header. */
export interface LeaseTimeToLive {
  ID: bigint;
  TTL: number;
  grantedTTL: number;
  keys: Uint8Array[];
}

export type RenewResult =
  /** Renewed; if `proposeCheckpointReset`, propose LeaseCheckpoint {ID, remainingTTL: 0}. */
  | { kind: 'renewed'; ttlSec: number; proposeCheckpointReset: boolean }
  /** Its expiry passed: wait for its revoke (then answer TTL 0) or a demote (NotLeader). */
  | { kind: 'expired' };

export interface LessorStats {
  primary: boolean;
  leaseCount: number;
  attachedKeyCount: number;
  expiryHeapSize: number;
  expiryHeapPushes: number;
  expiryHeapPops: number;
  expiryHeapSiftSteps: number;
  checkpointHeapSize: number;
}

interface Lease {
  readonly id: bigint;
  /** Granted TTL, seconds, >= minTtlSec. */
  readonly ttlSec: number;
  /** Last applied checkpoint, seconds; 0 = none. */
  remainingTtlSec: number;
  /** Finite iff the lessor is primary. */
  expiryMs: number;
  /** Handed out by expired() since its clock last (re)started; implies expiryMs has passed. */
  revoking: boolean;
  /** Primary only: fires at expiryMs, or at the retry instant while revoking; never on a follower. */
  readonly expiry: Timer;
  /** Primary with checkpointing only: fires when the next checkpoint is due. */
  readonly checkpoint: Timer;
  /** Attached keys as latin1 strings (one char per byte, so string order is byte order). */
  readonly keys: Set<string>;
}

function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

function keyBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

function assertNow(nowMs: number): void {
  assert.ok(Number.isFinite(nowMs) && nowMs >= 0, `nowMs ${nowMs}`);
}

function sortKeys(keys: Iterable<string>): Uint8Array[] {
  return [...keys].sort().map(keyBytes);
}

export class Lessor {
  readonly config: LessorConfig;
  /** Every lease, leader or not. */
  private readonly leaseMap = new Map<bigint, Lease>();
  /** key -> lease for every attached key; the key is in exactly that lease's `keys`. */
  private readonly keyLease = new Map<string, bigint>();
  /** Whether this member keeps expiry clocks (is the leader and has promoted). */
  private primary = false;
  /** One live entry per lease while primary; empty when not primary. */
  private readonly expiryQueue = new TimerQueue((id) => this.leaseMap.get(id)?.expiry, () => this.leaseMap.size);
  /** Entries for leases that outlive a checkpoint interval; empty when not primary or off. */
  private readonly checkpointQueue = new TimerQueue((id) => this.leaseMap.get(id)?.checkpoint, () => this.leaseMap.size);

  constructor(config: LessorConfig) {
    assert.ok(Number.isSafeInteger(config.minTtlSec) && config.minTtlSec >= 1, `minTtlSec ${config.minTtlSec}`);
    assert.ok(Number.isFinite(config.revokeRetryMs) && config.revokeRetryMs > 0, `revokeRetryMs ${config.revokeRetryMs}`);
    assert.ok(Number.isFinite(config.checkpointIntervalMs) && config.checkpointIntervalMs >= 0);
    this.config = { ...config };
  }

  get isPrimary(): boolean {
    return this.primary;
  }

  // ---- applied through raft (every member) ---------------------------------------------------

  /** Applies LeaseGrant; returns the record to persist. The leader's clock starts at nowMs. */
  grant(id: bigint, ttlSec: number, nowMs: number): LeaseRecord {
    assertNow(nowMs);
    assert.ok(Number.isSafeInteger(ttlSec), `lease ttl ${ttlSec} is not a safe integer`);
    assert.ok(isInt64(id), `lease id ${id} is not an int64`);
    // etcd's order of checks: id 0 is "not found", then the TTL bound, then duplicates.
    if (id === 0n) throw EtcdError.of('LeaseNotFound');
    if (ttlSec > MAX_LEASE_TTL_SEC) throw EtcdError.of('LeaseTTLTooLarge');
    if (this.leaseMap.has(id)) throw EtcdError.of('LeaseExist');
    const l: Lease = {
      id, ttlSec: Math.max(ttlSec, this.config.minTtlSec), remainingTtlSec: 0, expiryMs: Infinity,
      revoking: false, expiry: newTimer(), checkpoint: newTimer(), keys: new Set(),
    };
    this.leaseMap.set(id, l);
    if (this.primary) {
      this.startClock(l, nowMs + l.ttlSec * 1000);
      this.scheduleCheckpoint(l, nowMs);
    }
    assert.ok(l.ttlSec >= this.config.minTtlSec && l.ttlSec <= MAX_LEASE_TTL_SEC);
    return this.toRecord(l);
  }

  /**
   * Applies LeaseRevoke: removes the lease and returns its keys in byte order, which the caller
   * deletes in ONE revision (same order on every member) in the batch that deletes the record.
   */
  revoke(id: bigint): Uint8Array[] {
    const l = this.get(id);
    const keys = sortKeys(l.keys);
    for (const k of l.keys) {
      assert.equal(this.keyLease.get(k), id, 'key index disagrees with lease keys');
      this.keyLease.delete(k);
    }
    this.leaseMap.delete(id);
    // Its heap entries are now dead (no lease): dropped when they surface, or compacted away.
    assert.equal(keys.length, l.keys.size);
    return keys;
  }

  /** Applies one LeaseCheckpoint; returns the record to persist, or undefined if unknown (etcd ignores it). */
  checkpoint(id: bigint, remainingTtlSec: number, nowMs: number): LeaseRecord | undefined {
    assertNow(nowMs);
    assert.ok(Number.isSafeInteger(remainingTtlSec) && remainingTtlSec >= 0, `remaining ttl ${remainingTtlSec}`);
    const l = this.leaseMap.get(id);
    if (l === undefined) return undefined;
    // Only the stored remaining TTL changes; the running clock is left alone (promote uses it).
    l.remainingTtlSec = remainingTtlSec;
    if (this.primary) this.scheduleCheckpoint(l, nowMs);
    return this.toRecord(l);
  }

  /** Attaches `key` to lease `id`, moving it off the lease it was attached to, if another. */
  attach(id: bigint, key: Uint8Array): void {
    const l = this.get(id);
    const k = keyString(key);
    const prev = this.keyLease.get(k);
    if (prev === id) return;
    if (prev !== undefined) {
      const old = this.leaseMap.get(prev);
      assert.ok(old !== undefined && old.keys.has(k), 'key attached to a lease that does not hold it');
      old.keys.delete(k);
    }
    l.keys.add(k);
    this.keyLease.set(k, id);
  }

  /**
   * Detaches `key` from lease `id` (a delete, or a put without lease). Returns false, changing
   * nothing, when the lease is gone (already revoked) or the key is not attached to it.
   */
  detach(id: bigint, key: Uint8Array): boolean {
    const k = keyString(key);
    if (this.keyLease.get(k) !== id) return false;
    const l = this.leaseMap.get(id);
    assert.ok(l !== undefined && l.keys.has(k), 'key index points at a lease that does not hold the key');
    l.keys.delete(k);
    this.keyLease.delete(k);
    return true;
  }

  /** Replaces every lease with `records` (start-up, snapshot install); keys are re-attached after. */
  restore(records: Iterable<LeaseRecord>): void {
    assert.ok(!this.primary, 'restore on a primary lessor (a leader never installs a snapshot)');
    this.leaseMap.clear();
    this.keyLease.clear();
    this.expiryQueue.clear();
    this.checkpointQueue.clear();
    for (const r of records) {
      assertLeaseRecord(r);
      assert.ok(!this.leaseMap.has(r.id), `lease ${r.id} restored twice`);
      this.leaseMap.set(r.id, {
        id: r.id, ttlSec: r.ttlSec, remainingTtlSec: r.remainingTtlSec, expiryMs: Infinity,
        revoking: false, expiry: newTimer(), checkpoint: newTimer(), keys: new Set(),
      });
    }
  }

  // ---- leader only ---------------------------------------------------------------------------

  /** A keep-alive. Throws NotLeader on a follower, LeaseNotFound for an unknown lease. */
  renew(id: bigint, nowMs: number): RenewResult {
    assertNow(nowMs);
    if (!this.primary) throw EtcdError.of('NotLeader');
    const l = this.get(id);
    if (l.expiryMs <= nowMs) return { kind: 'expired' };
    assert.ok(!l.revoking, 'a revoking lease has a future expiry');
    const proposeCheckpointReset = this.config.checkpointIntervalMs > 0 && l.remainingTtlSec > 0;
    l.remainingTtlSec = 0;
    this.startClock(l, nowMs + l.ttlSec * 1000);
    this.scheduleCheckpoint(l, nowMs);
    return { kind: 'renewed', ttlSec: l.ttlSec, proposeCheckpointReset };
  }

  /**
   * Up to `maxBatch` leases whose expiry has passed, earliest first; the caller proposes their
   * revocation. Each is marked revoking and comes back only after `revokeRetryMs` if still here.
   */
  expired(nowMs: number, maxBatch: number = LEASE_REVOKE_BATCH_MAX): bigint[] {
    assertNow(nowMs);
    assert.ok(Number.isSafeInteger(maxBatch) && maxBatch >= 1 && maxBatch <= EXPIRED_POPS_PER_CALL_MAX, `maxBatch ${maxBatch}`);
    const out: bigint[] = [];
    if (!this.primary) return out;
    this.expiryQueue.fireDue(nowMs, EXPIRED_POPS_PER_CALL_MAX, maxBatch, (id, t) => {
      const l = this.leaseMap.get(id)!;
      assert.ok(l.expiryMs <= nowMs, 'a lease timer fired before its expiry');
      l.revoking = true;
      this.expiryQueue.arm(id, t, nowMs + this.config.revokeRetryMs);
      out.push(id);
    });
    assert.ok(out.length <= maxBatch);
    return out;
  }

  /** Whether `expired(nowMs)` has more work now (a burst larger than one batch or pop budget). */
  hasExpired(nowMs: number): boolean {
    return this.primary && this.expiryQueue.hasDue(nowMs);
  }

  /** Checkpoints due (leader with checkpointing on), at most `maxBatch`, for one LeaseCheckpoint proposal. */
  dueCheckpoints(nowMs: number, maxBatch: number = LEASE_CHECKPOINT_BATCH_MAX): LeaseCheckpoint[] {
    assertNow(nowMs);
    assert.ok(Number.isSafeInteger(maxBatch) && maxBatch >= 1 && maxBatch <= LEASE_CHECKPOINT_BATCH_MAX);
    const out: LeaseCheckpoint[] = [];
    if (!this.primary) return out;
    // Once handed out, a lease is rescheduled when its checkpoint is applied (or on renew or
    // promote), as etcd does; a skipped lease is not rescheduled (it has nothing to record).
    this.checkpointQueue.fireDue(nowMs, EXPIRED_POPS_PER_CALL_MAX, maxBatch, (id) => {
      const l = this.leaseMap.get(id)!;
      if (l.expiryMs <= nowMs) return;
      const remainingTtlSec = Math.ceil((l.expiryMs - nowMs) / 1000);
      if (remainingTtlSec >= l.ttlSec) return;
      out.push({ ID: l.id, remainingTTL: remainingTtlSec });
    });
    assert.ok(out.length <= maxBatch);
    return out;
  }

  /**
   * Becomes primary: every lease's clock restarts at nowMs from its remaining TTL plus `extendMs`
   * (etcd passes the election timeout), a pile-up of equal expiries is spread, and the heaps are
   * rebuilt in O(n).
   */
  promote(extendMs: number, nowMs: number): void {
    assertNow(nowMs);
    assert.ok(Number.isFinite(extendMs) && extendMs >= 0, `extendMs ${extendMs}`);
    this.primary = true;
    const all = [...this.leaseMap.values()];
    for (const l of all) {
      l.revoking = false;
      l.expiryMs = nowMs + extendMs + this.remainingTtlSecOf(l) * 1000;
    }
    if (all.length >= LEASE_REVOKE_RATE_PER_SEC) {
      all.sort((a, b) => a.expiryMs - b.expiryMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const spread = spreadExpiries(all.map((l) => l.expiryMs), PROMOTE_EXPIRIES_PER_SEC_MAX);
      all.forEach((l, i) => { l.expiryMs = spread[i]!; });
    }
    for (const l of all) {
      l.expiry.atMs = l.expiryMs;
      l.checkpoint.atMs = this.checkpointAtMs(l, nowMs);
    }
    this.expiryQueue.rebuild(all.map((l) => [l.id, l.expiry]));
    this.checkpointQueue.rebuild(all.map((l) => [l.id, l.checkpoint]));
    assert.equal(this.expiryQueue.heap.size, this.leaseMap.size);
  }

  /** Stops being primary: no lease expires here any more, no checkpoints are scheduled. */
  demote(): void {
    this.primary = false;
    for (const l of this.leaseMap.values()) {
      l.expiryMs = Infinity;
      l.revoking = false;
      Object.assign(l.expiry, newTimer());
      Object.assign(l.checkpoint, newTimer());
    }
    this.expiryQueue.clear();
    this.checkpointQueue.clear();
    assert.equal(this.expiryQueue.heap.size, 0);
  }

  // ---- reads ---------------------------------------------------------------------------------

  exists(id: bigint): boolean {
    return this.leaseMap.has(id);
  }

  lookup(id: bigint): LeaseView | undefined {
    const l = this.leaseMap.get(id);
    if (l === undefined) return undefined;
    return {
      id: l.id, ttlSec: l.ttlSec, remainingTtlSec: l.remainingTtlSec, expiryMs: l.expiryMs,
      revoking: l.revoking, keyCount: l.keys.size,
    };
  }

  /** The lease `key` is attached to, 0n if none. */
  leaseOf(key: Uint8Array): bigint {
    return this.keyLease.get(keyString(key)) ?? 0n;
  }

  /** The record to persist for `id` (after grant or checkpoint), if it exists. */
  record(id: bigint): LeaseRecord | undefined {
    const l = this.leaseMap.get(id);
    return l === undefined ? undefined : this.toRecord(l);
  }

  /** Every lease id, soonest expiry first (etcd's order), ties by id. */
  leases(): bigint[] {
    const all = [...this.leaseMap.values()];
    all.sort((a, b) => (a.expiryMs === b.expiryMs ? 0 : a.expiryMs < b.expiryMs ? -1 : 1) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return all.map((l) => l.id);
  }

  /**
   * LeaseTimeToLive. On the leader TTL is the remaining time truncated to seconds (etcd); a
   * follower keeps no clock, so it answers the last known remaining TTL (callers should ask the
   * leader, as etcd forwards this request). Throws LeaseNotFound (the gateway answers TTL -1).
   */
  timeToLive(id: bigint, nowMs: number, withKeys: boolean): LeaseTimeToLive {
    assertNow(nowMs);
    const l = this.get(id);
    const ttl = this.primary ? Math.trunc((l.expiryMs - nowMs) / 1000) : this.remainingTtlSecOf(l);
    assert.ok(Number.isSafeInteger(ttl));
    return { ID: l.id, TTL: ttl === 0 ? 0 : ttl, grantedTTL: l.ttlSec, keys: withKeys ? sortKeys(l.keys) : [] };
  }

  /** An unused random id for a grant with ID 0 (drawn before proposing, never at apply). */
  chooseId(rng: Rng32): bigint {
    for (let i = 0; i < CHOOSE_ID_ATTEMPTS_MAX; i++) {
      const id = randomLeaseId(rng);
      if (!this.leaseMap.has(id)) return id;
    }
    assert.fail('no unused lease id found: the rng is not random');
  }

  stats(): LessorStats {
    return {
      primary: this.primary, leaseCount: this.leaseMap.size, attachedKeyCount: this.keyLease.size,
      expiryHeapSize: this.expiryQueue.heap.size, expiryHeapPushes: this.expiryQueue.heap.pushes,
      expiryHeapPops: this.expiryQueue.heap.pops, expiryHeapSiftSteps: this.expiryQueue.heap.siftSteps,
      checkpointHeapSize: this.checkpointQueue.heap.size,
    };
  }

  /** O(n) cross-check of every invariant, for tests and debugging. */
  assertConsistent(): void {
    let attached = 0;
    for (const l of this.leaseMap.values()) {
      assert.ok(l.ttlSec >= this.config.minTtlSec && l.ttlSec <= MAX_LEASE_TTL_SEC);
      assert.equal(Number.isFinite(l.expiryMs), this.primary, `lease ${l.id} clock vs role`);
      assert.equal(Number.isFinite(l.expiry.dueMs), this.primary, `lease ${l.id} heap entry vs role`);
      assert.ok(l.expiry.dueMs <= l.expiry.atMs && l.checkpoint.dueMs <= l.checkpoint.atMs);
      assert.ok(l.revoking || !this.primary || l.expiry.atMs === l.expiryMs, `lease ${l.id} timer vs expiry`);
      assert.ok(!l.revoking || l.expiryMs !== Infinity);
      for (const k of l.keys) assert.equal(this.keyLease.get(k), l.id);
      attached += l.keys.size;
    }
    assert.equal(attached, this.keyLease.size, 'a key is attached to a missing lease');
  }

  // ---- internals -----------------------------------------------------------------------------

  private get(id: bigint): Lease {
    const l = this.leaseMap.get(id);
    if (l === undefined) throw EtcdError.of('LeaseNotFound');
    return l;
  }

  private toRecord(l: Lease): LeaseRecord {
    return { id: l.id, ttlSec: l.ttlSec, remainingTtlSec: l.remainingTtlSec };
  }

  /** etcd's RemainingTTL(): the checkpoint if any, else the granted TTL. */
  private remainingTtlSecOf(l: Lease): number {
    return l.remainingTtlSec > 0 ? l.remainingTtlSec : l.ttlSec;
  }

  /** (Re)starts the lease's clock: it expires at expiryMs and is no longer revoking. */
  private startClock(l: Lease, expiryMs: number): void {
    assert.ok(this.primary && Number.isFinite(expiryMs));
    l.expiryMs = expiryMs;
    l.revoking = false;
    this.expiryQueue.arm(l.id, l.expiry, expiryMs);
  }

  /** etcd checkpoints only leases that outlive one checkpoint interval. */
  private checkpointAtMs(l: Lease, nowMs: number): number {
    const intervalMs = this.config.checkpointIntervalMs;
    if (intervalMs === 0 || !this.primary) return Infinity;
    if (this.remainingTtlSecOf(l) * 1000 <= intervalMs) return Infinity;
    return nowMs + intervalMs;
  }

  private scheduleCheckpoint(l: Lease, nowMs: number): void {
    this.checkpointQueue.arm(l.id, l.checkpoint, this.checkpointAtMs(l, nowMs));
  }
}
