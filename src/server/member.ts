// A member: one OS process holding three actors (wal-writer, raft-node, mvcc-apply) on worker
// threads, wired together by MessageChannels, and the main-thread side that the gateway calls.
//
// The main-thread side never touches the log or the store. It gives every client request an id,
// batches proposals and reads into one message per macrotask, and resolves each request when
// mvcc-apply (or, for a rejected proposal, raft-node) answers that id. Every request has a
// deadline, so a client never waits forever: etcd's request timeout (5 s plus two election
// timeouts) gives `etcdserver: request timed out`.
//
// A crashed actor takes the whole member down (`onFatal`), with one clear log line and a
// non-zero exit, rather than leaving a member that half works.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Logger } from 'pino';
import { Coalescer, Outbox, channel, receive, spawnActor } from '../actors/runtime.js';
import type { ActorHandle } from '../actors/runtime.js';
import { EtcdError } from '../api/errors.js';
import type {
  CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, HashKVRequest, HashKVResponse,
  HashResponse, KvService,
  PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp, StatusResponse, TxnRequest,
  TxnResponse,
} from '../api/types.js';
import { encodeRaftRequest } from '../mvcc/request-codec.js';
import type { RaftRequest } from '../mvcc/request-codec.js';
import { validateDeleteRange, validatePut, validateRange, validateTxn } from '../mvcc/validate.js';
import { NONE } from '../raft/types.js';
import type { NodeId } from '../raft/types.js';
import { MemberLeases } from '../lease/member-lease.js';
import { PeerForwarder } from './peer-forwarder.js';
import type { LeaseQuery } from '../lease/lease-apply.js';
import type { LogLevel } from './log.js';
import { memberPaths } from './member-init.js';
import type { ApplyInit, FsyncMode, PeerInit, RaftInit, WalInit } from './member-init.js';
import type { MembershipRequest } from './membership.js';
import type {
  ApplyIn, ApplyStatusReply, HashReply, MainFromApply, ProposalItem, RaftIn, RaftOut, RaftStatusReply, ReadEventsReply,
  ReadItem, RequestId, RevisionEvents, WatchStatusReply,
} from './messages.js';

export const TETCD_VERSION = '3.4.0';

export interface MemberOptions {
  name: string;
  dataDir: string;
  walDir?: string;
  memberId: NodeId;
  clusterId: NodeId;
  initialVoters: NodeId[];
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  maxTxnOps: number;
  /** etcd's --max-request-bytes: the largest encoded write accepted. */
  maxRequestBytes: number;
  fsync: FsyncMode;
  logLevel: LogLevel;
  logger: Logger;
  /** Cluster bootstrap (src/cli/tetcd.ts): the other members, where to listen, the token. */
  peers?: PeerInit[];
  listenPeerUrls?: string[];
  clusterToken?: string;
  /** etcd's --snapshot-count: applied entries between log snapshots. */
  snapshotCount?: number;
  /** Called when an actor dies; the default logs and exits the process with status 1. */
  onFatal?: (actor: string, reason: string) => void;
  /** Published in the member list (src/server/membership.ts); absent: not published. */
  advertisePeerUrls?: string[];
  advertiseClientUrls?: string[];
  /** Join an existing cluster (--initial-cluster-state existing, empty data dir): no bootstrap. */
  join?: boolean;
  /** --strict-reconfig-check (default true). */
  strictReconfigCheck?: boolean;
  /** Called once this member's removal from the cluster is applied; the default only logs. */
  onRemoved?: () => void;
}

/** etcd's --snapshot-count default. */
export const SNAPSHOT_COUNT_DEFAULT = 100_000;
/** Entries kept behind a log snapshot for slow followers (etcd's SnapshotCatchUpEntries). */
export const SNAPSHOT_CATCH_UP_ENTRIES = 5000;

/** Requests in flight per member; beyond it new requests get etcd's "too many requests". */
export const PENDING_REQUESTS_MAX = 100_000;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: EtcdError) => void;
  timer: NodeJS.Timeout;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A raft request before it gets its id. */
type RaftRequestBody = DistributiveOmit<RaftRequest, 'id'>;

const WORKERS = new URL('../../workers/', import.meta.url);

export class Member implements KvService {
  /** The lease service (src/lease/member-lease.ts): what the gateway's lease routes call. */
  readonly leases: MemberLeases;
  /** Lease keep-alives and time-to-live to and from the leader, over the peer transport. */
  private readonly forwarder: PeerForwarder;
  private readonly pending = new Map<RequestId, Pending>();
  /**
   * Request ids go into raft entries that EVERY member applies and answers by id, so they must
   * not collide across members: like etcd's idutil, the member id's low 16 bits lead, then the
   * start time in ms (40 bits) and a counter (8 bits, carrying into the time).
   */
  private nextId: bigint;
  private proposals: ProposalItem[] = [];
  private linearReads: ReadItem[] = [];
  private readonly flusher = new Coalescer(() => this.flush());
  private readonly requestTimeoutMs: number;
  private raftStatusWaiters = new Map<RequestId, (s: RaftStatusReply) => void>();
  private applyStatusWaiters = new Map<RequestId, (s: ApplyStatusReply) => void>();
  private closeWaiters = new Map<RequestId, () => void>();
  /** The watch hub's subscriptions to applied event batches (see subscribeEvents). */
  private readonly eventListeners = new Set<(revisions: RevisionEvents[], raftTerm: number) => void>();
  /** The watch hub's subscriptions to store restores from a leader's snapshot (see subscribeRestores). */
  private readonly restoreListeners = new Set<(revision: number) => void>();
  private readonly readEventsWaiters = new Map<RequestId, (r: ReadEventsReply) => void>();
  private readonly watchStatusWaiters = new Map<RequestId, (r: WatchStatusReply) => void>();
  private leader: NodeId = NONE;
  private raftTerm = 0;
  private started = false;
  private stopped = false;
  /** The cluster id raft-node reported on start (stored, or adopted by a joiner); 0 before. */
  private startedClusterId: NodeId = 0n;

  private constructor(
    readonly opts: MemberOptions,
    private readonly actors: { wal: ActorHandle; raft: ActorHandle; apply: ActorHandle },
  ) {
    this.requestTimeoutMs = 5000 + 2 * opts.electionTimeoutMs;
    this.leases = new MemberLeases({
      memberId: opts.memberId, requestTimeoutMs: this.requestTimeoutMs, leader: () => this.leader,
      propose: (req) => this.propose(req), query: (q) => this.leaseQuery(q),
    });
    this.forwarder = new PeerForwarder({
      memberId: opts.memberId, leader: () => this.leader, logger: opts.logger,
      send: (to, response, items) => this.toRaft.send({ type: 'forward', to, response, items }),
      keepAliveHere: (req) => this.leases.leaseKeepAliveHere(req),
      timeToLiveHere: (req) => this.leases.leaseTimeToLiveHere(req),
    });
    this.leases.setForwarder(this.forwarder);
    this.nextId = ((opts.memberId & 0xffffn) << 48n) | ((BigInt(Date.now()) & 0xff_ffff_ffffn) << 8n);
  }

  static async start(opts: MemberOptions): Promise<Member> {
    const paths = memberPaths(opts.dataDir, opts.walDir);
    fs.mkdirSync(paths.snapDir, { recursive: true, mode: 0o700 });
    const onFatal = opts.onFatal ?? ((actor: string, reason: string) => {
      opts.logger.fatal({ actor, reason }, `tetcd: actor ${actor} crashed; stopping the member`);
      process.exit(1);
    });
    const raftWal = channel();
    const raftApply = channel();
    const walInit: WalInit = { walDir: paths.walDir, fsync: opts.fsync, logLevel: opts.logLevel, memberName: opts.name };
    const applyInit: ApplyInit = {
      dbDir: paths.dbDir, memberId: opts.memberId, clusterId: opts.clusterId, logLevel: opts.logLevel,
      snapshotCount: opts.snapshotCount ?? SNAPSHOT_COUNT_DEFAULT, memberName: opts.name,
      electionTimeoutMs: opts.electionTimeoutMs, heartbeatIntervalMs: opts.heartbeatIntervalMs,
    };
    const raftInit: RaftInit = {
      memberId: opts.memberId,
      initialVoters: opts.initialVoters,
      electionTick: Math.max(2, Math.round(opts.electionTimeoutMs / opts.heartbeatIntervalMs)),
      heartbeatTick: 1,
      tickIntervalMs: opts.heartbeatIntervalMs,
      seed: Number(opts.memberId & 0x7fffffffn) ^ Date.now(),
      logLevel: opts.logLevel,
      memberName: opts.name,
      clusterId: opts.clusterId,
      clusterToken: opts.clusterToken ?? '',
      listenPeerUrls: opts.listenPeerUrls ?? [],
      peers: opts.peers ?? [],
      snapshotCount: opts.snapshotCount ?? SNAPSHOT_COUNT_DEFAULT,
      // A lowered --snapshot-count (tests) lowers what is kept too, so that snapshots get sent.
      snapshotCatchUpEntries: Math.min(SNAPSHOT_CATCH_UP_ENTRIES, opts.snapshotCount ?? SNAPSHOT_COUNT_DEFAULT),
      ...(opts.advertisePeerUrls ? { advertisePeerUrls: opts.advertisePeerUrls } : {}),
      ...(opts.advertiseClientUrls ? { advertiseClientUrls: opts.advertiseClientUrls } : {}),
      ...(opts.join ? { join: true } : {}),
      ...(opts.strictReconfigCheck === false ? { strictReconfigCheck: false } : {}),
    };
    const wal = spawnActor({ name: 'wal-writer', entry: new URL('wal-writer.ts', WORKERS), init: walInit, ports: { raft: raftWal.a }, onFatal });
    const apply = spawnActor({ name: 'mvcc-apply', entry: new URL('mvcc-apply.ts', WORKERS), init: applyInit, ports: { raft: raftApply.a }, onFatal });
    const raft = spawnActor({
      name: 'raft-node', entry: new URL('raft-node.ts', WORKERS), init: raftInit,
      ports: { wal: raftWal.b, apply: raftApply.b }, onFatal,
    });
    const member = new Member(opts, { wal, raft, apply });
    await member.wire();
    return member;
  }

  private toRaft!: Outbox<RaftIn>;
  private toApply!: Outbox<ApplyIn>;

  private wire(): Promise<void> {
    this.toRaft = new Outbox<RaftIn>(this.actors.raft.worker);
    this.toApply = new Outbox<ApplyIn>(this.actors.apply.worker);
    receive<MainFromApply>(this.actors.apply.worker, (m) => this.onApply(m));
    return new Promise((resolve) => {
      receive<RaftOut>(this.actors.raft.worker, (m) => {
        if (m.type === 'started') {
          this.started = true;
          this.startedClusterId = m.clusterId;
          resolve();
        }
        this.onRaft(m);
      });
    });
  }

  private onRaft(m: RaftOut): void {
    switch (m.type) {
      case 'started':
        return;
      case 'dropped':
        for (const id of m.ids) this.settle(id, undefined, EtcdError.from(m.error));
        return;
      case 'status':
        this.raftStatusWaiters.get(m.id)?.(m.status);
        this.raftStatusWaiters.delete(m.id);
        return;
      case 'soft':
        this.leader = m.soft.lead;
        this.raftTerm = m.term;
        return;
      case 'members':
        this.settle(m.id, m, undefined);
        return;
      case 'transferred':
        this.settle(m.id, m, undefined);
        return;
      case 'removed':
        this.opts.logger.warn('tetcd: this member was removed from the cluster');
        this.opts.onRemoved?.();
        return;
      case 'forwarded':
        if (m.response) this.forwarder.onResponses(m.from, m.items);
        else this.forwarder.onRequests(m.from, m.items);
        return;
      case 'forwardFailed':
        this.forwarder.onSendFailed(m.to, m.ids);
        return;
      case 'peerUnreachable':
        this.forwarder.onPeerUnreachable(m.peer);
        return;
      case 'stopped':
        return;
    }
  }

  private onApply(m: MainFromApply): void {
    switch (m.type) {
      case 'results':
        for (const it of m.items) {
          if ('err' in it) this.settle(it.id, undefined, EtcdError.from(it.err));
          else this.settle(it.id, it.ok, undefined);
        }
        return;
      case 'status':
        this.applyStatusWaiters.get(m.id)?.(m.status);
        this.applyStatusWaiters.delete(m.id);
        return;
      case 'closed':
        this.closeWaiters.get(m.id)?.();
        this.closeWaiters.delete(m.id);
        return;
      case 'events':
        for (const listener of this.eventListeners) listener(m.revisions, m.raftTerm);
        return;
      case 'readEvents':
        this.readEventsWaiters.get(m.id)?.(m);
        this.readEventsWaiters.delete(m.id);
        return;
      case 'watchStatus':
        this.watchStatusWaiters.get(m.id)?.(m);
        this.watchStatusWaiters.delete(m.id);
        return;
      case 'hash':
        if ('err' in m) this.settle(m.id, undefined, EtcdError.from(m.err));
        else this.settle(m.id, m, undefined);
        return;
      case 'leaseIds':
        this.leases.onLeaseIds(m);
        return;
      case 'storeRestored':
        for (const listener of this.restoreListeners) listener(m.revision);
        return;
    }
  }

  // ---- the watch hub's source (src/watch/hub.ts: WatchSource) ----

  get clusterId(): NodeId {
    return this.startedClusterId !== 0n ? this.startedClusterId : this.opts.clusterId;
  }

  /** Called (in order with event batches) when the store is replaced by a leader's snapshot. */
  subscribeRestores(listener: (revision: number) => void): () => void {
    this.restoreListeners.add(listener);
    return () => { this.restoreListeners.delete(listener); };
  }

  /** Every applied batch of changes, in revision order, one call per batch. Returns unsubscribe. */
  subscribeEvents(listener: (revisions: RevisionEvents[], raftTerm: number) => void): () => void {
    this.eventListeners.add(listener);
    return () => { this.eventListeners.delete(listener); };
  }

  /** History for watch catch-up (see ReadEventsRequest); a compacted start is answered as data. */
  readEvents(fromRev: number, toRev: number, maxEvents: number, prevKv: boolean): Promise<ReadEventsReply> {
    if (this.stopped) return Promise.reject(EtcdError.of('Stopped'));
    assert.ok(fromRev >= 1 && maxEvents > 0, `readEvents(${fromRev}, ${maxEvents})`);
    const id = this.newId();
    return new Promise((resolve) => {
      this.readEventsWaiters.set(id, resolve);
      this.toApply.send({ type: 'readEvents', id, fromRev, toRev, maxEvents, prevKv });
    });
  }

  /** The revision of the last event batch delivered to subscribers, and the compaction point. */
  watchStatus(): Promise<WatchStatusReply> {
    if (this.stopped) return Promise.reject(EtcdError.of('Stopped'));
    const id = this.newId();
    return new Promise((resolve) => {
      this.watchStatusWaiters.set(id, resolve);
      this.toApply.send({ type: 'watchStatus', id });
    });
  }

  private settle(id: RequestId, ok: unknown, err: EtcdError | undefined): void {
    const p = this.pending.get(id);
    if (!p) return; // not ours (replayed after restart) or already timed out
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(ok);
  }

  private track<T>(id: RequestId): Promise<T> {
    if (this.stopped) return Promise.reject(EtcdError.of('Stopped'));
    if (this.pending.size >= PENDING_REQUESTS_MAX) return Promise.reject(EtcdError.of('TooManyRequests'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(EtcdError.of(this.leader === NONE ? 'NoLeader' : 'Timeout'));
      }, this.requestTimeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
    });
  }

  private newId(): RequestId {
    this.nextId += 1n;
    return this.nextId;
  }

  private propose<T>(body: RaftRequestBody): Promise<T> {
    const id = this.newId();
    const data = encodeRaftRequest({ id, ...body } as RaftRequest);
    // etcd applies --max-request-bytes to what it would append to the log, i.e. writes only.
    if (data.length > this.opts.maxRequestBytes) return Promise.reject(EtcdError.of('RequestTooLarge'));
    const p = this.track<T>(id);
    this.proposals.push({ id, data });
    this.flusher.schedule();
    return p;
  }

  private read<T>(item: ReadItem, serializable: boolean): Promise<T> {
    const p = this.track<T>(item.id);
    if (serializable) this.toApply.send({ type: 'read', items: [item], index: 0, term: this.raftTerm });
    else {
      this.linearReads.push(item);
      this.flusher.schedule();
    }
    return p;
  }

  private flush(): void {
    if (this.proposals.length > 0) {
      this.toRaft.send({ type: 'propose', items: this.proposals });
      this.proposals = [];
    }
    if (this.linearReads.length > 0) {
      this.toRaft.send({ type: 'read', items: this.linearReads });
      this.linearReads = [];
    }
  }

  // ---- KvService ----

  range(req: RangeRequest): Promise<RangeResponse> {
    validateRange(req);
    return this.read({ id: this.newId(), kind: 'range', req }, req.serializable === true);
  }

  put(req: PutRequest): Promise<PutResponse> {
    validatePut(req);
    this.leases.checkPutLease(req.lease);
    return this.propose({ put: req });
  }

  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    validateDeleteRange(req);
    return this.propose({ deleteRange: req });
  }

  txn(req: TxnRequest): Promise<TxnResponse> {
    validateTxn(req, this.opts.maxTxnOps);
    if (isReadOnlyTxn(req)) return this.read({ id: this.newId(), kind: 'txn', req }, isSerializableTxn(req));
    return this.propose({ txn: req });
  }

  compact(req: CompactionRequest): Promise<CompactionResponse> {
    return this.propose({ compaction: req });
  }

  async status(): Promise<StatusResponse> {
    const [raft, apply] = await Promise.all([this.raftStatus(), this.applyStatus()]);
    return {
      header: { ...apply.header, raftTerm: raft.term },
      version: TETCD_VERSION,
      dbSize: apply.dbSizeBytes,
      leader: raft.leader,
      raftIndex: raft.commit,
      raftTerm: raft.term,
      raftAppliedIndex: apply.consistentIndex,
      errors: [],
      dbSizeInUse: apply.dbSizeBytes,
      isLearner: false,
    };
  }

  /** etcd's Hash: this member's whole backend, after committing everything applied. */
  async hash(): Promise<HashResponse> {
    const r = await this.askHash(false, 0);
    return { header: r.header, hash: r.hash };
  }

  /**
   * etcd's HashKV: this member's KV history up to `revision` (0 or less: current). Local, like etcd's:
   * members that applied the same entries answer the same hash for the same revision.
   */
  async hashKV(req: HashKVRequest): Promise<HashKVResponse> {
    const revision = req.revision ?? 0;
    assert.ok(Number.isSafeInteger(revision), 'hashKV revision is a safe integer');
    const r = await this.askHash(true, revision);
    return { header: r.header, hash: r.hash, compactRevision: r.compactRevision };
  }

  /** A lease query to mvcc-apply's lessor, answered like a read (by request id). */
  private leaseQuery(query: LeaseQuery): Promise<unknown> {
    const id = this.newId();
    const p = this.track<unknown>(id);
    if (!this.stopped) this.toApply.send({ type: 'leaseQuery', id, query });
    return p;
  }

  private askHash(kv: boolean, revision: number): Promise<Extract<HashReply, { hash: number }>> {
    const id = this.newId();
    const p = this.track<Extract<HashReply, { hash: number }>>(id);
    if (!this.stopped) this.toApply.send({ type: 'hash', id, kv, revision });
    return p;
  }

  /** Healthy: started, a leader is known, and a linearizable read goes through. */
  async health(): Promise<boolean> {
    if (!this.started || this.stopped || this.leader === NONE) return false;
    try {
      await this.range({ key: new Uint8Array([0x68]), limit: 1, countOnly: true });
      return true;
    } catch {
      return false;
    }
  }

  get memberId(): NodeId {
    return this.opts.memberId;
  }

  // ---- Cluster service (src/server/membership.ts does the work in raft-node) ----

  /** The members raft-node knows, with the raft term; `member`: the one a change added. */
  askMembers(req?: MembershipRequest): Promise<Extract<RaftOut, { type: 'members' }>> {
    const id = this.newId();
    const p = this.track<Extract<RaftOut, { type: 'members' }>>(id);
    if (!this.stopped) this.toRaft.send(req === undefined ? { type: 'members', id } : { type: 'memberChange', id, req });
    return p;
  }

  /** etcd's MoveLeader: resolves once `target` leads. */
  transferLeader(target: NodeId): Promise<Extract<RaftOut, { type: 'transferred' }>> {
    const id = this.newId();
    const p = this.track<Extract<RaftOut, { type: 'transferred' }>>(id);
    if (!this.stopped) this.toRaft.send({ type: 'transferLeader', id, target });
    return p;
  }

  /** Failpoint for partition tests (tetcd.ts: TETCD_FAILPOINTS=1 and SIGUSR2): block peer traffic. */
  setPeerTrafficBlocked(on: boolean): void {
    if (this.stopped) return;
    this.toRaft.send({ type: 'blockPeers', on });
  }

  private raftStatus(): Promise<RaftStatusReply> {
    const id = this.newId();
    return new Promise((resolve) => {
      this.raftStatusWaiters.set(id, resolve);
      this.toRaft.send({ type: 'status', id });
    });
  }

  private applyStatus(): Promise<ApplyStatusReply> {
    const id = this.newId();
    return new Promise((resolve) => {
      this.applyStatusWaiters.set(id, resolve);
      this.toApply.send({ type: 'status', id });
    });
  }

  /**
   * Stops cleanly: no new requests; requests already proposed are given a short while to be
   * answered; then the store commits and closes, the WAL syncs and closes, and the threads end.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.flush();
    const drainUntil = Date.now() + 2000;
    while (this.pending.size > 0 && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 5));
    this.forwarder.close();
    this.toRaft.send({ type: 'stop' });
    const id = this.newId();
    await new Promise<void>((resolve) => {
      this.closeWaiters.set(id, resolve);
      this.toApply.send({ type: 'close', id });
    });
    await new Promise<void>((resolve) => {
      this.actors.wal.worker.once('message', () => resolve());
      this.actors.wal.worker.postMessage({ type: 'close' });
    });
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(EtcdError.of('Stopped'));
    }
    this.pending.clear();
    await Promise.all([this.actors.raft.stop(), this.actors.apply.stop(), this.actors.wal.stop()]);
  }
}

function opsOf(req: TxnRequest): RequestOp[] {
  return [...req.success, ...req.failure];
}

/** A txn with no put and no delete anywhere (nested txns included) changes nothing. */
export function isReadOnlyTxn(req: TxnRequest): boolean {
  return opsOf(req).every((op) => {
    if ('requestRange' in op) return true;
    if ('requestTxn' in op) return isReadOnlyTxn(op.requestTxn);
    return false;
  });
}

/** etcd serves a read-only txn locally only if every range in it is serializable. */
function isSerializableTxn(req: TxnRequest): boolean {
  const ops = opsOf(req);
  if (ops.length === 0) return false;
  return ops.every((op) => {
    if ('requestRange' in op) return op.requestRange.serializable === true;
    if ('requestTxn' in op) return isSerializableTxn(op.requestTxn);
    return false;
  });
}

assert.ok(PENDING_REQUESTS_MAX > 0);
