// The main-thread side of a member's lease service: what the gateway calls. Grants and revokes
// are proposed through raft (a grant's id is chosen HERE when the client leaves it 0, so every
// member applies the same id); keep-alives, time-to-live and listing are queries to mvcc-apply,
// where the lessor lives.
//
// Keep-alives (and time-to-live) belong to the leader, whose lessor keeps the clocks. On a
// follower with a forwarder installed (src/server/peer-forwarder.ts, over the peer transport) the
// request goes to the leader; otherwise it is asked of mvcc-apply here. Either may fail in a way
// that a later attempt can fix: mvcc-apply answers NotLeader (a follower, or a new leader that
// has not applied its first entry yet), the leader asked turns out not to lead (NotLeader from
// it), or it cannot be reached (an Unavailable error from the forwarder). Then the request is
// tried again every LEASE_RENEW_RETRY_MS, against whoever leads by then, until the request
// timeout: NoLeader if no leader is known by then, else Timeout, as etcd's LeaseRenew loops.
// `leaseKeepAliveHere` / `leaseTimeToLiveHere` serve what peers forward: this member's lessor
// only, never forwarded again.
//
// Propose-time check of put leases: mvcc-apply posts the lease ids each apply batch granted and
// revoked (before the batch's results), and this side keeps the set. On the leader a put naming a
// lease not in the set fails at once with LeaseNotFound, without a raft round. Followers do not
// reject (their set may lag the leader's), and apply checks again everywhere, so a stale set
// never accepts a bad lease; it could only reject a lease granted through another member and not
// yet applied on the leader, a window of one apply batch.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EtcdError, ERRORS, GrpcCode } from '../api/errors.js';
import type {
  LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseLeasesResponse,
  LeaseRevokeRequest, LeaseRevokeResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
} from '../api/types.js';
import type { NodeId } from '../raft/types.js';
import { MAX_LEASE_TTL_SEC } from './codec.js';
import type { LeaseIdChanges, LeaseQuery } from './lease-apply.js';
import { randomLeaseId, type Rng32 } from './lease-id.js';
import type { LeaseRaftRequest } from './requests.js';
import type { LeaseService } from './service.js';

/** etcd's throttle between two attempts to reach the leader for a renewal. */
export const LEASE_RENEW_RETRY_MS = 50;
/** Ids the propose-time check remembers; beyond it (a huge lease count) the check is skipped. */
export const KNOWN_LEASE_IDS_MAX = 10_000_000;

/**
 * Forwards a lease request to the leader (installed by the peer wiring). Fails with an
 * Unavailable error (NoLeader, Timeout) when the leader cannot be reached within `timeoutMs`,
 * or with the leader's own error (NotLeader when it no longer leads).
 */
export interface LeaseForwarder {
  keepAlive(leader: NodeId, req: LeaseKeepAliveRequest, timeoutMs: number): Promise<LeaseKeepAliveResponse>;
  timeToLive(leader: NodeId, req: LeaseTimeToLiveRequest, timeoutMs: number): Promise<LeaseTimeToLiveResponse>;
}

/** What the member gives this side. */
export interface MemberLeaseDeps {
  memberId: NodeId;
  requestTimeoutMs: number;
  /** The current leader as raft last reported it (NONE = 0n while unknown). */
  leader(): NodeId;
  /** Proposes a lease request through raft; resolves with mvcc-apply's answer. */
  propose(req: LeaseRaftRequest): Promise<unknown>;
  /** Sends a query to mvcc-apply; resolves with its answer. */
  query(q: LeaseQuery): Promise<unknown>;
  /** Lease ids for grants with ID 0 (default: the OS's CSPRNG, so ids never repeat across restarts). */
  rng?: Rng32;
}

export const cryptoRng: Rng32 = { nextU32: () => randomBytes(4).readUInt32BE(0) };

function isNotLeader(err: unknown): boolean {
  return err instanceof EtcdError && err.message === ERRORS.NotLeader.message;
}

/** Worth another attempt: not the leader, or (forwarded) the leader could not be reached. */
function isRetryable(err: unknown, forwarded: boolean): boolean {
  return isNotLeader(err) || (forwarded && err instanceof EtcdError && err.grpc === GrpcCode.Unavailable);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class MemberLeases implements LeaseService {
  /** Lease ids as of the last apply batch main heard of; undefined until mvcc-apply posts the set. */
  private known: Set<bigint> | undefined;
  private forwarder: LeaseForwarder | undefined;
  private readonly rng: Rng32;

  constructor(private readonly deps: MemberLeaseDeps) {
    assert.ok(deps.requestTimeoutMs > 0);
    this.rng = deps.rng ?? cryptoRng;
  }

  setForwarder(f: LeaseForwarder | undefined): void {
    this.forwarder = f;
  }

  /** mvcc-apply's 'leaseIds' message. */
  onLeaseIds(c: LeaseIdChanges): void {
    if (c.reset || this.known === undefined) this.known = new Set();
    for (const id of c.granted) this.known.add(id);
    for (const id of c.revoked) this.known.delete(id);
    if (this.known.size > KNOWN_LEASE_IDS_MAX) this.known = undefined; // stop guessing; apply checks
  }

  /** Propose-time check of a put's lease (see header); throws LeaseNotFound. */
  checkPutLease(lease: bigint | undefined): void {
    if (lease === undefined || lease === 0n || this.known === undefined) return;
    if (this.deps.leader() !== this.deps.memberId) return;
    if (!this.known.has(lease)) throw EtcdError.of('LeaseNotFound');
  }

  leaseGrant(req: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    assert.ok(Number.isSafeInteger(req.TTL), `lease TTL ${req.TTL}`);
    // etcd checks the bound before proposing (and the lessor again at apply).
    if (req.TTL > MAX_LEASE_TTL_SEC) return Promise.reject(EtcdError.of('LeaseTTLTooLarge'));
    const ID = req.ID !== undefined && req.ID !== 0n ? req.ID : randomLeaseId(this.rng);
    return this.deps.propose({ leaseGrant: { TTL: req.TTL, ID } }) as Promise<LeaseGrantResponse>;
  }

  leaseRevoke(req: LeaseRevokeRequest): Promise<LeaseRevokeResponse> {
    // ID 0 is never a lease: etcd answers "not found" (from apply); skip the raft round.
    if (req.ID === 0n) return Promise.reject(EtcdError.of('LeaseNotFound'));
    return this.deps.propose({ leaseRevoke: { ID: req.ID } }) as Promise<LeaseRevokeResponse>;
  }

  leaseKeepAlive(req: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse> {
    return this.onLeader(() => this.leaseKeepAliveHere(req), (f, leader, timeoutMs) => f.keepAlive(leader, req, timeoutMs));
  }

  /**
   * Only the leader knows the remaining time; a follower with a forwarder asks it (as etcd).
   * Without one, or while no leader is known, this member answers from what it has.
   */
  leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    return this.onLeader(() => this.timeToLiveQuery(req), (f, leader, timeoutMs) => f.timeToLive(leader, req, timeoutMs));
  }

  /** A keep-alive a peer forwarded: this member's lessor only (NotLeader unless it leads). */
  leaseKeepAliveHere(req: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse> {
    return this.deps.query({ kind: 'keepAlive', ID: req.ID }) as Promise<LeaseKeepAliveResponse>;
  }

  /** A time-to-live a peer forwarded: answered only if this member leads (else NotLeader). */
  leaseTimeToLiveHere(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    if (this.deps.leader() !== this.deps.memberId) return Promise.reject(EtcdError.of('NotLeader'));
    return this.timeToLiveQuery(req);
  }

  private timeToLiveQuery(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    return this.deps.query({ kind: 'timeToLive', ID: req.ID, keys: req.keys === true }) as Promise<LeaseTimeToLiveResponse>;
  }

  leaseLeases(): Promise<LeaseLeasesResponse> {
    return this.deps.query({ kind: 'leases' }) as Promise<LeaseLeasesResponse>;
  }

  /**
   * Asks the leader: through the forwarder when another member leads, else here; again every
   * LEASE_RENEW_RETRY_MS while the failure is retryable (see header), until the request timeout.
   */
  private async onLeader<T>(
    local: () => Promise<T>, forward: (f: LeaseForwarder, leader: NodeId, timeoutMs: number) => Promise<T>,
  ): Promise<T> {
    const deadlineMs = Date.now() + this.deps.requestTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const leader = this.deps.leader();
      const f = this.forwarder;
      const forwarded = f !== undefined && leader !== 0n && leader !== this.deps.memberId;
      try {
        return await (forwarded ? forward(f, leader, deadlineMs - Date.now()) : local());
      } catch (err) {
        if (!isRetryable(err, forwarded)) throw err;
      }
      if (Date.now() + LEASE_RENEW_RETRY_MS > deadlineMs) throw EtcdError.of(this.deps.leader() === 0n ? 'NoLeader' : 'Timeout');
      await sleep(LEASE_RENEW_RETRY_MS);
      assert.ok(attempt < this.deps.requestTimeoutMs, 'renew retries are bounded by the deadline');
    }
  }
}
