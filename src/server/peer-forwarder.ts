// PeerForwarder: the main-thread side of request/response forwarding between members, over the
// peer transport (ForwardRequest / ForwardResponse frames, src/transport/codec.ts). Today it
// carries the lease requests that only the leader can answer (etcd's LeaseRenew and
// LeaseTimeToLive go from a follower to the leader's peer URL): a follower's MemberLeases calls
// `keepAlive` / `timeToLive` (the LeaseForwarder interface), and the leader serves what arrives
// from its own lessor, never forwarding again (a receiver that is not the leader answers
// NotLeader; the asking follower's retry loop in MemberLeases handles that until its deadline).
//
// Requester side: each request gets an id (unique per member lifetime) and a pending entry with
// a deadline; answers settle it by id. A request fails fast, with the error etcd gives when the
// leader cannot be reached (NoLeader while no leader is known, else Timeout), when raft-node
// could not hand it to the peer (not connected, queue full) or the transport lost the peer after
// it was sent; the caller's retry loop decides whether to try again. Pending entries are capped
// (FORWARD_PENDING_MAX; beyond it TooManyRequests), so a dead leader never grows memory.
//
// Batching: requests and answers are collected per peer and handed to raft-node once per
// macrotask (one 'forward' message per peer and direction), which packs them into as few frames
// as the bounds allow; 1,000 keep-alives arriving in one turn travel as one frame each way.
//
// Server side: at most FORWARD_SERVING_MAX forwarded requests are being served at once; beyond it
// they are answered TooManyRequests at once, so a flood from peers is bounded too.

import assert from 'node:assert/strict';
import { Coalescer } from '../actors/runtime.js';
import { EtcdError, GrpcCode } from '../api/errors.js';
import type { ErrorData } from '../api/errors.js';
import type {
  LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
} from '../api/types.js';
import type { LeaseForwarder } from '../lease/member-lease.js';
import { NONE } from '../raft/types.js';
import type { NodeId } from '../raft/types.js';
import { FORWARD_BODY_MAX_BYTES } from '../transport/codec.js';
import type { ForwardItem } from '../transport/codec.js';
import {
  ForwardBodyError, decodeLeaseAnswerBody, decodeLeaseRequestBody, encodeLeaseAnswerBody, encodeLeaseRequestBody,
} from '../transport/forward-lease.js';
import type { ForwardedLeaseAnswer, ForwardedLeaseKind, ForwardedLeaseRequest, ForwardedLeaseResponse } from '../transport/forward-lease.js';

/** Forwarded requests waiting for their answer; more are refused (TooManyRequests). */
export const FORWARD_PENDING_MAX = 65_536;
/** Requests from peers being served at once; more are answered TooManyRequests. */
export const FORWARD_SERVING_MAX = 65_536;

/** The log lines this uses (a pino Logger fits). */
export interface ForwarderLogger {
  warn(obj: object, msg: string): void;
}

export interface PeerForwarderDeps {
  memberId: NodeId;
  /** The current leader as raft last reported it (NONE while unknown): picks NoLeader vs Timeout. */
  leader(): NodeId;
  /** Hands a batch to raft-node for member `to` (RaftIn 'forward'). */
  send(to: NodeId, response: boolean, items: ForwardItem[]): void;
  /** Serves a peer's request from this member's own lessor: answers NotLeader, never forwards. */
  keepAliveHere(req: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse>;
  timeToLiveHere(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse>;
  logger: ForwarderLogger;
}

interface Pending {
  peer: NodeId;
  kind: ForwardedLeaseKind;
  resolve: (r: ForwardedLeaseResponse) => void;
  reject: (e: EtcdError) => void;
  timer: NodeJS.Timeout;
}

export class PeerForwarder implements LeaseForwarder {
  /** Requests sent (or about to be) and not settled, by id; invariant: size <= FORWARD_PENDING_MAX. */
  private readonly pending = new Map<bigint, Pending>();
  private lastId = 0n;
  /** Items collected this turn, per peer; flushed together (see header). */
  private outRequests = new Map<NodeId, ForwardItem[]>();
  private outResponses = new Map<NodeId, ForwardItem[]>();
  /** Peer requests being served; invariant: 0 <= serving <= FORWARD_SERVING_MAX. */
  private serving = 0;
  private readonly flusher = new Coalescer(() => this.flush());
  private closed = false;

  constructor(private readonly deps: PeerForwarderDeps) {
    assert.notEqual(deps.memberId, NONE, 'member id 0 is reserved');
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get servingCount(): number {
    return this.serving;
  }

  keepAlive(leader: NodeId, req: LeaseKeepAliveRequest, timeoutMs: number): Promise<LeaseKeepAliveResponse> {
    return this.request(leader, { kind: 'keepAlive', req }, timeoutMs) as Promise<LeaseKeepAliveResponse>;
  }

  timeToLive(leader: NodeId, req: LeaseTimeToLiveRequest, timeoutMs: number): Promise<LeaseTimeToLiveResponse> {
    return this.request(leader, { kind: 'timeToLive', req }, timeoutMs) as Promise<LeaseTimeToLiveResponse>;
  }

  private request(to: NodeId, r: ForwardedLeaseRequest, timeoutMs: number): Promise<ForwardedLeaseResponse> {
    assert.ok(to !== NONE && to !== this.deps.memberId, `cannot forward to member ${to}`);
    assert.ok(Number.isFinite(timeoutMs), 'a forwarded request needs a deadline');
    if (this.closed) return Promise.reject(EtcdError.of('Stopped'));
    if (this.pending.size >= FORWARD_PENDING_MAX) return Promise.reject(EtcdError.of('TooManyRequests'));
    if (timeoutMs <= 0) return Promise.reject(this.unreachableError());
    this.lastId += 1n;
    const id = this.lastId;
    const p = new Promise<ForwardedLeaseResponse>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(id, this.unreachableError()), timeoutMs);
      this.pending.set(id, { peer: to, kind: r.kind, resolve, reject, timer });
    });
    queueItem(this.outRequests, to, { id, body: encodeLeaseRequestBody(r) });
    this.flusher.schedule();
    assert.ok(this.pending.size <= FORWARD_PENDING_MAX);
    return p;
  }

  /** What etcd answers when the leader cannot be reached before the deadline. */
  private unreachableError(): EtcdError {
    return EtcdError.of(this.deps.leader() === NONE ? 'NoLeader' : 'Timeout');
  }

  private fail(id: bigint, err: EtcdError): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.reject(err);
  }

  // ---- from raft-node ----

  /** Answers from `from` to our requests. Unknown ids (late, after a deadline) are ignored. */
  onResponses(from: NodeId, items: readonly ForwardItem[]): void {
    for (const it of items) {
      const p = this.pending.get(it.id);
      if (!p || p.peer !== from) continue; // an answer from a member we did not ask is not trusted
      this.pending.delete(it.id);
      clearTimeout(p.timer);
      let a: ForwardedLeaseAnswer;
      try {
        a = decodeLeaseAnswerBody(p.kind, it.body);
      } catch (err) {
        if (!(err instanceof ForwardBodyError)) throw err;
        this.deps.logger.warn({ peer: from.toString(16), err: err.message }, 'forward: bad answer from a peer');
        p.reject(new EtcdError(GrpcCode.Internal, `etcdserver: bad forwarded answer: ${err.message}`));
        continue;
      }
      if ('err' in a) p.reject(EtcdError.from(a.err));
      // etcd fills the header of a forwarded answer on the member that answers the client.
      else p.resolve({ ...a.ok, header: { ...a.ok.header, memberId: this.deps.memberId } });
    }
  }

  /** raft-node could not hand these requests to `to`. */
  onSendFailed(to: NodeId, ids: readonly bigint[]): void {
    for (const id of ids) if (this.pending.get(id)?.peer === to) this.fail(id, this.unreachableError());
  }

  /** The transport lost `peer`: what waits on it will never be answered. */
  onPeerUnreachable(peer: NodeId): void {
    for (const [id, p] of this.pending) if (p.peer === peer) this.fail(id, this.unreachableError());
  }

  /** Requests from `from`: served here, answered in a later batch. */
  onRequests(from: NodeId, items: readonly ForwardItem[]): void {
    for (const it of items) {
      if (this.closed) {
        this.answer(from, it.id, 'keepAlive', { err: EtcdError.of('Stopped').toData() });
        continue;
      }
      let r: ForwardedLeaseRequest;
      try {
        r = decodeLeaseRequestBody(it.body);
      } catch (err) {
        if (!(err instanceof ForwardBodyError)) throw err;
        this.deps.logger.warn({ peer: from.toString(16), err: err.message }, 'forward: bad request from a peer');
        this.answer(from, it.id, 'keepAlive', { err: EtcdError.invalidArgument(`etcdserver: bad forwarded request: ${err.message}`).toData() });
        continue;
      }
      if (this.serving >= FORWARD_SERVING_MAX) {
        this.answer(from, it.id, r.kind, { err: EtcdError.of('TooManyRequests').toData() });
        continue;
      }
      this.serve(from, it.id, r);
    }
  }

  private serve(from: NodeId, id: bigint, r: ForwardedLeaseRequest): void {
    this.serving += 1;
    const served: Promise<ForwardedLeaseResponse> = r.kind === 'keepAlive' ? this.deps.keepAliveHere(r.req) : this.deps.timeToLiveHere(r.req);
    served.then(
      (ok) => this.answer(from, id, r.kind, { ok }),
      (err: unknown) => this.answer(from, id, r.kind, { err: errorDataOf(err) }),
    ).finally(() => {
      this.serving -= 1;
      assert.ok(this.serving >= 0, 'served more than were serving');
    });
  }

  private answer(to: NodeId, id: bigint, kind: ForwardedLeaseKind, a: ForwardedLeaseAnswer): void {
    const body = encodeLeaseAnswerBody(kind, a) ?? encodeLeaseAnswerBody(kind, {
      err: { grpc: GrpcCode.ResourceExhausted, message: `etcdserver: forwarded answer larger than ${FORWARD_BODY_MAX_BYTES} bytes` },
    });
    assert.ok(body !== undefined, 'an error answer always fits');
    queueItem(this.outResponses, to, { id, body });
    this.flusher.schedule();
  }

  private flush(): void {
    const requests = this.outRequests;
    const responses = this.outResponses;
    this.outRequests = new Map();
    this.outResponses = new Map();
    for (const [to, items] of requests) this.deps.send(to, false, items);
    for (const [to, items] of responses) this.deps.send(to, true, items);
  }

  /** The member stops: every request waiting fails with Stopped; later ones too. */
  close(): void {
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.fail(id, EtcdError.of('Stopped'));
    assert.equal(this.pending.size, 0);
  }
}

function queueItem(out: Map<NodeId, ForwardItem[]>, to: NodeId, it: ForwardItem): void {
  const list = out.get(to);
  if (list) list.push(it);
  else out.set(to, [it]);
}

function errorDataOf(err: unknown): ErrorData {
  if (err instanceof EtcdError) return err.toData();
  return { grpc: GrpcCode.Unknown, message: err instanceof Error ? err.message : String(err) };
}
