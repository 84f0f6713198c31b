// Cluster membership, the pure part: the member records raft-node keeps, the ConfChange context
// that carries a member's attributes through the log, and etcd 3.4's rules that decide whether a
// member add/remove/update/promote may be proposed (and which etcd error refuses it).
//
// Where the state lives: in raft-node's memory (MembershipKeeper), and durably in mvcc-apply's
// backend, in a bucket of its own (etcd keeps its "members" bucket there too): MemberRecords
// stages every applied ConfChange's effect in the same batch as the entry's consistent index, so
// the records match the store's applied index, survive log compaction, and travel with the
// store's dump when a follower catches up through a snapshot. The bucket also holds the cluster
// id. On start raft-node takes --initial-cluster, then the records, then the log's ConfChanges
// after them (see workers/raft-node.ts). Attributes travel in the ConfChange
// context as JSON; every member, once started, "publishes" its own name and client URLs with an
// UpdateNode ConfChange (etcd publishes them with a log entry too), so every member learns them
// through the log. UpdateNode changes nothing in raft's configuration.
//
// Changes are queued per member (MEMBER_CHANGES_QUEUED_MAX): raft accepts one ConfChange at a
// time, so a member proposes the next only once the previous was applied, each planned against
// the membership of that moment (so a later request meets etcd's rule-based errors, never a
// timeout because an earlier one was pending; raft would silently drop a second ConfChange).
//
// A member id is derived from its peer URLs and the cluster token (member-init.ts), so the
// member that `member add` announces and the process started later with those URLs agree on
// the id without asking anyone.
//
// etcd 3.4 facts kept here (checked against etcd 3.4 with curl): at most one learner
// (TooManyLearners); add checks the id first (MemberExist), then the URLs (PeerURLExist);
// a learner may be promoted once its match index is at least 90% of the leader's. With
// --strict-reconfig-check (on by default) a voter is added, removed or promoted only if the
// voters that have STARTED (published their attributes) still make a quorum of the new
// configuration (MemberNotEnoughStarted); etcd lets a 1-member cluster add a second member.
// etcd's other strict check (every voter connected for 5 s, else "unhealthy cluster") is timing
// based and not reproduced.

import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import type { Backend, BackendOp } from '../mvcc/backend.js';
import { ERRORS } from '../api/errors.js';
import type { ErrorName } from '../api/errors.js';
import { decodeConfChange } from '../raft/confchange.js';
import type { RawNode } from '../raft/rawnode.js';
import { ConfChangeType, EntryType, NONE, RaftError } from '../raft/types.js';
import type { ConfChange, ConfState, Entry, NodeId } from '../raft/types.js';
import type { PeerTransport } from '../transport/transport.js';
import { computeMemberId } from './member-init.js';
import type { RaftInit } from './member-init.js';
import type { RaftIn, RaftOut, RequestId } from './messages.js';

/** etcd's maxLearners. */
export const LEARNERS_MAX = 1;
/** etcd's readyPercent: a learner is ready when its match >= this share of the leader's. */
export const LEARNER_READY_SHARE = 0.9;
/** A context larger than this is not a member's attributes (bounds what a peer can make us parse). */
export const CONTEXT_BYTES_MAX = 64 * 1024;

export interface MemberInfo {
  id: NodeId;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** Attributes as they travel in a ConfChange context; `req` ties the entry to a waiting client. */
export interface ConfContext {
  req?: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
}

export type MembershipRequest =
  | { kind: 'add'; peerURLs: string[]; isLearner: boolean }
  | { kind: 'remove'; id: NodeId }
  | { kind: 'update'; id: NodeId; peerURLs: string[] }
  | { kind: 'promote'; id: NodeId };

export function encodeContext(c: ConfContext): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(c));
}

/** A context that is not ours (or empty) decodes as {}: raft-level changes still apply. */
export function decodeContext(data: Uint8Array): ConfContext {
  if (data.byteLength === 0 || data.byteLength > CONTEXT_BYTES_MAX) return {};
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    const o = v as Record<string, unknown>;
    const out: ConfContext = {};
    if (typeof o.req === 'string') out.req = o.req;
    if (typeof o.name === 'string') out.name = o.name;
    if (isStrings(o.peerURLs)) out.peerURLs = o.peerURLs;
    if (isStrings(o.clientURLs)) out.clientURLs = o.clientURLs;
    return out;
  } catch {
    return {};
  }
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** etcd's URL check for member URLs: http(s)://host:port, nothing after the port. */
export function validPeerUrls(urls: readonly string[]): boolean {
  if (urls.length === 0) return false;
  return urls.every((raw) => {
    try {
      const u = new URL(raw);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && u.port !== '' &&
        (u.pathname === '/' || u.pathname === '') && u.search === '' && u.hash === '';
    } catch {
      return false;
    }
  });
}

/** The member list for a configuration: every voter and learner, attributes where known. */
export function listMembers(cs: ConfState, attrs: ReadonlyMap<NodeId, ConfContext>): MemberInfo[] {
  const one = (id: NodeId, isLearner: boolean): MemberInfo => {
    const a = attrs.get(id) ?? {};
    return { id, name: a.name ?? '', peerURLs: a.peerURLs ?? [], clientURLs: a.clientURLs ?? [], isLearner };
  };
  const out = [...cs.voters.map((id) => one(id, false)), ...cs.learners.map((id) => one(id, true))];
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Folds an applied ConfChange's context into the attributes (RemoveNode forgets the member). */
export function applyAttrs(attrs: Map<NodeId, ConfContext>, cc: ConfChange): void {
  if (cc.type === ConfChangeType.RemoveNode) {
    attrs.delete(cc.nodeId);
    return;
  }
  const c = decodeContext(cc.context);
  const prev = attrs.get(cc.nodeId) ?? {};
  const next: ConfContext = { ...prev };
  if (c.name !== undefined) next.name = c.name;
  if (c.peerURLs !== undefined) next.peerURLs = c.peerURLs;
  if (c.clientURLs !== undefined) next.clientURLs = c.clientURLs;
  attrs.set(cc.nodeId, next);
}

export interface PlanInput {
  members: readonly MemberInfo[];
  clusterToken: string;
  /** The leader's progress (match per member); undefined on a follower. */
  progress?: ReadonlyMap<NodeId, { match: number }>;
  leaderId: NodeId;
  /** --strict-reconfig-check: refuse changes that leave too few started voters. */
  strict: boolean;
}

/** A member has started once its attributes (client URLs) reached the log. */
function started(m: MemberInfo): boolean {
  return m.clientURLs.length > 0;
}

/** Whether the started voters (plus `extraStarted`) make a quorum of `voters` voters. */
function quorumStarted(voters: number, startedVoters: number): boolean {
  return startedVoters >= Math.floor(voters / 2) + 1;
}

/** etcd's strict reconfiguration check for a change of the voters; undefined: allowed. */
function strictCheck(r: MembershipRequest, p: PlanInput): ErrorName | undefined {
  if (!p.strict) return undefined;
  const voters = p.members.filter((m) => !m.isLearner);
  const nStarted = voters.filter(started).length;
  switch (r.kind) {
    case 'add':
      if (r.isLearner || (nStarted === 1 && voters.length === 1)) return undefined;
      return quorumStarted(voters.length + 1, nStarted) ? undefined : 'MemberNotEnoughStarted';
    case 'remove': {
      if (!voters.some((m) => m.id === r.id)) return undefined;
      const rest = voters.filter((m) => m.id !== r.id);
      return quorumStarted(rest.length, rest.filter(started).length) ? undefined : 'MemberNotEnoughStarted';
    }
    case 'promote': // the learner counts as started and as a voter
      return quorumStarted(voters.length + 1, nStarted + 1) ? undefined : 'MemberNotEnoughStarted';
    case 'update':
      return undefined;
  }
}

/** The ConfChange a request becomes (without its `req` tag), or the etcd error refusing it. */
export function planChange(r: MembershipRequest, p: PlanInput): { cc: ConfChange; ctx: ConfContext } | { error: ErrorName } {
  const byId = new Map(p.members.map((m) => [m.id, m]));
  const urlOwner = (urls: readonly string[], except?: NodeId): boolean =>
    p.members.some((m) => m.id !== except && m.peerURLs.some((u) => urls.includes(u)));
  switch (r.kind) {
    case 'add': {
      if (!validPeerUrls(r.peerURLs)) return { error: 'MemberBadURLs' };
      const id = computeMemberId(r.peerURLs, p.clusterToken);
      if (byId.has(id)) return { error: 'MemberExist' };
      if (urlOwner(r.peerURLs)) return { error: 'PeerURLExist' };
      if (r.isLearner && p.members.filter((m) => m.isLearner).length >= LEARNERS_MAX) return { error: 'TooManyLearners' };
      const refused = strictCheck(r, p);
      if (refused) return { error: refused };
      const ctx: ConfContext = { peerURLs: r.peerURLs };
      return { cc: { type: r.isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode, nodeId: id, context: new Uint8Array() }, ctx };
    }
    case 'remove':
      if (!byId.has(r.id)) return { error: 'MemberNotFound' };
      if (strictCheck(r, p)) return { error: strictCheck(r, p)! };
      return { cc: { type: ConfChangeType.RemoveNode, nodeId: r.id, context: new Uint8Array() }, ctx: {} };
    case 'update':
      if (!validPeerUrls(r.peerURLs)) return { error: 'MemberBadURLs' };
      if (!byId.has(r.id)) return { error: 'MemberNotFound' };
      if (urlOwner(r.peerURLs, r.id)) return { error: 'PeerURLExist' };
      return { cc: { type: ConfChangeType.UpdateNode, nodeId: r.id, context: new Uint8Array() }, ctx: { peerURLs: r.peerURLs } };
    case 'promote': {
      const m = byId.get(r.id);
      if (!m) return { error: 'MemberNotFound' };
      if (!m.isLearner) return { error: 'MemberNotLearner' };
      if (strictCheck(r, p)) return { error: strictCheck(r, p)! };
      if (!learnerReady(r.id, p)) return { error: 'LearnerNotReady' };
      return { cc: { type: ConfChangeType.AddNode, nodeId: r.id, context: new Uint8Array() }, ctx: {} };
    }
  }
}

function learnerReady(id: NodeId, p: PlanInput): boolean {
  if (!p.progress) return false;
  const learner = p.progress.get(id);
  const leader = p.progress.get(p.leaderId);
  if (!learner || !leader) return false;
  return learner.match >= leader.match * LEARNER_READY_SHARE;
}

assert.ok(LEARNERS_MAX >= 1 && LEARNER_READY_SHARE > 0 && LEARNER_READY_SHARE <= 1);

// ---- the raft-node side: MembershipKeeper ----
//
// Lives in raft-node's thread (it needs the RawNode and the transport). It keeps the attributes
// map, answers member list / change / leader transfer requests, keeps the peer transport in step
// with applied ConfChanges, and publishes this member's own attributes until the log has them.

/**
 * Membership changes waiting on this member behind the one in flight (proposed, not yet seen
 * applied). raft takes one ConfChange at a time and silently drops another proposed meanwhile,
 * so a member proposes its changes one after another; beyond this many waiting, TooManyRequests.
 */
export const MEMBER_CHANGES_QUEUED_MAX = 16;
/**
 * Ticks after which a change in flight but not applied is proposed again: raft drops a
 * ConfChange proposed while another (any member's, e.g. a publish) is unapplied, or lost with a
 * leader. A copy applied twice is harmless: every change is idempotent in raft and in the records.
 */
export const CHANGE_RETRY_TICKS = 5;
/** Leader transfers waited on at once. */
export const TRANSFERS_PENDING_MAX = 16;
/** Ticks between two attempts to publish this member's attributes (a ConfChange may be dropped). */
export const PUBLISH_RETRY_TICKS = 10;

export interface KeeperHost {
  init: RaftInit;
  log: Pick<Logger, 'info' | 'warn'>;
  toMain: (m: RaftOut) => void;
  node: () => RawNode | undefined;
  transport: () => PeerTransport | undefined;
  lead: () => NodeId;
  term: () => number;
  stopping: () => boolean;
  schedule: () => void;
}

type KeeperRequest = Extract<RaftIn, { type: 'members' | 'memberChange' | 'transferLeader' }>;

/** A membership request on this member; `key` ties it to its ConfChange (context `req`). */
interface QueuedChange {
  id: RequestId;
  req: MembershipRequest;
  key: string;
  /** Ticks left before the client's request timeout: then it is answered Timeout. */
  ticksLeft: number;
  /** Once proposed: ticks left before it is proposed again; the target member's id. */
  retryTicks?: number;
  nodeId?: NodeId;
}

export class MembershipKeeper {
  private readonly attrs = new Map<NodeId, ConfContext>();
  /** Changes in arrival order; only the head is ever proposed (it has nodeId once it was). */
  private queue: QueuedChange[] = [];
  private transfers: { id: RequestId; target: NodeId; ticksLeft: number }[] = [];
  private publishTicks = 0;

  constructor(private readonly h: KeeperHost) {
    // What the flags say; the log's ConfChanges (restore, onApplied) override it.
    for (const p of h.init.peers) this.attrs.set(p.id, { name: p.name, peerURLs: p.urls });
    this.attrs.set(h.init.memberId, { name: h.init.memberName, peerURLs: h.init.advertisePeerUrls ?? [] });
  }

  /** The backend's records (mvcc-apply, on open or after a snapshot restore) override the flags. */
  seed(records: readonly MemberInfo[]): void {
    for (const r of records) {
      const next: ConfContext = { ...this.attrs.get(r.id) };
      if (r.name !== '') next.name = r.name;
      if (r.peerURLs.length > 0) next.peerURLs = r.peerURLs;
      if (r.clientURLs.length > 0) next.clientURLs = r.clientURLs;
      this.attrs.set(r.id, next);
    }
  }

  /** On start: the attributes carried by ConfChange entries already applied (later ones come again). */
  restore(node: RawNode, entries: readonly Entry[]): void {
    const applied = node.status().applied;
    for (const e of entries) {
      if (e.type === EntryType.ConfChange && e.index <= applied) applyAttrs(this.attrs, decodeConfChange(e.data));
    }
  }

  /** Members of the configuration that the transport does not know yet (e.g. added before a restart). */
  syncPeers(): void {
    const t = this.h.transport();
    const node = this.h.node();
    if (!t || !node) return;
    for (const m of this.members(node)) {
      if (m.id !== this.h.init.memberId && m.peerURLs.length > 0 && !t.hasPeer(m.id)) t.addPeer(m.id, m.peerURLs);
    }
  }

  /** A committed ConfChange was applied to raft: attributes, transport, waiting client. */
  onApplied(cc: ConfChange): void {
    applyAttrs(this.attrs, cc);
    const self = this.h.init.memberId;
    const t = this.h.transport();
    if (cc.nodeId !== self && t) {
      const urls = this.attrs.get(cc.nodeId)?.peerURLs ?? [];
      if (cc.type === ConfChangeType.RemoveNode) t.removePeer(cc.nodeId);
      else if (urls.length > 0 && validPeerUrls(urls)) t.addPeer(cc.nodeId, urls);
    }
    const req = decodeContext(cc.context).req;
    const head = this.queue[0];
    if (req !== undefined && head?.nodeId !== undefined && head.key === req) {
      this.queue.shift();
      this.answerMembers(head.id, head.req.kind === 'add' ? head.nodeId : undefined);
      this.pump();
    }
    if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === self) {
      this.h.log.warn({}, 'raft: this member was removed from the cluster; stopping');
      this.h.toMain({ type: 'removed' });
    }
  }

  onRequest(msg: KeeperRequest): void {
    const node = this.h.node();
    if (!node || this.h.stopping()) return this.drop(msg.id, 'Stopped');
    switch (msg.type) {
      case 'members':
        return this.answerMembers(msg.id, undefined);
      case 'memberChange':
        return this.change(msg.id, msg.req);
      case 'transferLeader':
        return this.transfer(node, msg.id, msg.target);
    }
  }

  private change(id: RequestId, req: MembershipRequest): void {
    // The one in flight plus those waiting behind it.
    if (this.queue.length > MEMBER_CHANGES_QUEUED_MAX) return this.drop(id, 'TooManyRequests');
    const key = `${this.h.init.memberId.toString(16)}.${id}`;
    this.queue.push({ id, req, key, ticksLeft: requestTimeoutTicks(this.h.init) });
    this.pump();
  }

  /** Proposes the head of the queue unless it is in flight; requests refused on the way are answered. */
  private pump(): void {
    const node = this.h.node();
    while (node && this.queue.length > 0 && this.queue[0]!.nodeId === undefined) {
      const head = this.queue[0]!;
      const refused = this.propose(node, head);
      if (refused === undefined) return;
      this.queue.shift();
      this.drop(head.id, refused);
    }
  }

  /** Plans the change against the current membership and proposes it; the error refusing it otherwise. */
  private propose(node: RawNode, c: QueuedChange): ErrorName | undefined {
    const self = this.h.init.memberId;
    if (this.h.lead() === NONE) return 'NoLeader';
    // The readiness of a learner is known to the leader only (etcd forwards promote there).
    if (c.req.kind === 'promote' && this.h.lead() !== self) return 'NotLeader';
    const st = node.status();
    const plan = planChange(c.req, {
      members: listMembers(st.confState, this.attrs), clusterToken: this.h.init.clusterToken,
      progress: st.progress, leaderId: self, strict: this.h.init.strictReconfigCheck !== false,
    });
    if ('error' in plan) return plan.error;
    assert.ok(c.nodeId === undefined || c.nodeId === plan.cc.nodeId, 'a retried change names the same member');
    try {
      node.proposeConfChange({ ...plan.cc, context: encodeContext({ ...plan.ctx, req: c.key }) });
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      return 'NoLeader';
    }
    c.nodeId = plan.cc.nodeId;
    c.retryTicks = CHANGE_RETRY_TICKS;
    this.h.schedule();
    return undefined;
  }

  /** Every tick: requests past their timeout are answered; the one in flight is proposed again when due. */
  private tickChanges(): void {
    if (this.queue.length === 0) return;
    const expired = this.queue.filter((c) => c.ticksLeft <= 1);
    this.queue = this.queue.filter((c) => c.ticksLeft > 1);
    for (const c of this.queue) c.ticksLeft -= 1;
    for (const c of expired) this.drop(c.id, 'Timeout');
    const head = this.queue[0];
    const node = this.h.node();
    if (head?.retryTicks !== undefined && node) {
      head.retryTicks -= 1;
      if (head.retryTicks <= 0) {
        const refused = this.propose(node, head);
        // Refused now (e.g. MemberExist): an earlier copy may have been applied under another
        // leader's log without this member seeing its tag; the request timeout answers it.
        if (refused !== undefined) head.retryTicks = CHANGE_RETRY_TICKS;
      }
    }
    this.pump(); // a new head (the one before it expired) is proposed now
  }

  private transfer(node: RawNode, id: RequestId, target: NodeId): void {
    const self = this.h.init.memberId;
    if (this.h.lead() !== self) return this.drop(id, 'NotLeader');
    if (!node.status().confState.voters.includes(target)) return this.drop(id, 'BadLeaderTransferee');
    if (target === self) return this.h.toMain({ type: 'transferred', id, term: this.h.term() });
    if (this.transfers.length >= TRANSFERS_PENDING_MAX) return this.drop(id, 'TooManyRequests');
    node.transferLeader(target);
    // raft gives up a transfer after one election timeout; wait a little longer than that.
    this.transfers.push({ id, target, ticksLeft: 2 * this.h.init.electionTick });
  }

  /** Every tick: leader transfers done or timed out; this member's attributes published. */
  onTick(): void {
    this.tickChanges();
    if (this.transfers.length > 0) {
      const lead = this.h.lead();
      const left: typeof this.transfers = [];
      for (const tr of this.transfers) {
        if (lead === tr.target) this.h.toMain({ type: 'transferred', id: tr.id, term: this.h.term() });
        else if (tr.ticksLeft <= 1) this.drop(tr.id, 'Timeout');
        else left.push({ ...tr, ticksLeft: tr.ticksLeft - 1 });
      }
      this.transfers = left;
    }
    this.publish();
  }

  private publish(): void {
    const node = this.h.node();
    const { init } = this.h;
    const clientURLs = init.advertiseClientUrls;
    if (!node || clientURLs === undefined || this.h.lead() === NONE || this.h.stopping()) return;
    const own = this.attrs.get(init.memberId) ?? {};
    if (own.name === init.memberName && sameList(own.clientURLs ?? [], clientURLs)) return;
    const cs = node.status().confState;
    if (!cs.voters.includes(init.memberId) && !cs.learners.includes(init.memberId)) return;
    this.publishTicks -= 1;
    if (this.publishTicks > 0) return;
    this.publishTicks = PUBLISH_RETRY_TICKS;
    const context = encodeContext({ name: init.memberName, clientURLs });
    try {
      node.proposeConfChange({ type: ConfChangeType.UpdateNode, nodeId: init.memberId, context });
      this.h.schedule();
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
    }
  }

  private members(node: RawNode): MemberInfo[] {
    return listMembers(node.status().confState, this.attrs);
  }

  private answerMembers(id: RequestId, added: NodeId | undefined): void {
    const node = this.h.node();
    if (!node) return this.drop(id, 'Stopped');
    const members = this.members(node);
    const member = added === undefined ? undefined : members.find((m) => m.id === added);
    this.h.toMain(member
      ? { type: 'members', id, members, term: this.h.term(), member }
      : { type: 'members', id, members, term: this.h.term() });
  }

  private drop(id: RequestId, name: ErrorName): void {
    this.h.toMain({ type: 'dropped', ids: [id], error: { grpc: ERRORS[name].grpc, message: ERRORS[name].message } });
  }
}

/** The client's request timeout in ticks (main's, member.ts: 5 s + two election timeouts), a little under it. */
function requestTimeoutTicks(init: RaftInit): number {
  const timeoutMs = 5000 + 2 * init.electionTick * init.tickIntervalMs;
  const ticks = Math.floor(timeoutMs / init.tickIntervalMs) - 1;
  assert.ok(ticks >= 1, 'a request timeout of at least two ticks');
  return ticks;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---- membership records in the backend (mvcc-apply's side) ----
//
// Bucket 'c' (cluster): "c" + "clusterId" -> the cluster id as 16 hex digits;
// "c" + "member/" + 16 hex digits of the id -> JSON {name, peerURLs, clientURLs, isLearner}.
// Worked example: a 3-member cluster where m4 was added as a learner and then published holds
// c clusterId, c member/<m1>, c member/<m2>, c member/<m3>, and c member/<m4> with
// {"name":"m4","peerURLs":[...],"clientURLs":[...],"isLearner":true}.

export const CLUSTER_BUCKET_PREFIX = 0x63; // 'c'
const CLUSTER_ID_KEY = bucketKey('clusterId');
const MEMBER_KEY_PREFIX = 'member/';
/** The whole bucket, for load(). */
const CLUSTER_BUCKET = { gte: Uint8Array.of(CLUSTER_BUCKET_PREFIX), lt: Uint8Array.of(CLUSTER_BUCKET_PREFIX + 1) };
/** More member records than this is a corrupt bucket (raft configurations are small). */
export const MEMBER_RECORDS_MAX = 1024;

function bucketKey(name: string): Uint8Array {
  assert.ok(/^[\x20-\x7e]+$/.test(name), 'cluster bucket names are printable ASCII');
  return Uint8Array.from([CLUSTER_BUCKET_PREFIX, ...Buffer.from(name, 'ascii')]);
}

function memberKey(id: NodeId): Uint8Array {
  return bucketKey(MEMBER_KEY_PREFIX + id.toString(16).padStart(16, '0'));
}

function encodeRecord(m: MemberInfo): Uint8Array {
  const { name, peerURLs, clientURLs, isLearner } = m;
  return new TextEncoder().encode(JSON.stringify({ name, peerURLs, clientURLs, isLearner }));
}

function decodeRecord(id: NodeId, v: Uint8Array): MemberInfo {
  const o = JSON.parse(new TextDecoder().decode(v)) as Record<string, unknown>;
  assert.ok(typeof o.name === 'string' && isStrings(o.peerURLs) && isStrings(o.clientURLs) && typeof o.isLearner === 'boolean',
    `member record ${id.toString(16)} is malformed`);
  return { id, name: o.name, peerURLs: o.peerURLs, clientURLs: o.clientURLs, isLearner: o.isLearner };
}

/** The records of one store, in memory; each change returns the backend ops that persist it. */
export class MemberRecords {
  private constructor(
    /** UNKNOWN (0n) until the member knows which cluster it belongs to. */
    public clusterId: NodeId,
    private readonly byId: Map<NodeId, MemberInfo>,
  ) {}

  static async load(backend: Pick<Backend, 'iterate'>): Promise<MemberRecords> {
    let clusterId = 0n;
    const byId = new Map<NodeId, MemberInfo>();
    const idKey = Buffer.from(CLUSTER_ID_KEY).toString('latin1');
    for await (const [k, v] of backend.iterate(CLUSTER_BUCKET)) {
      const name = Buffer.from(k.subarray(1)).toString('latin1');
      if (Buffer.from(k).toString('latin1') === idKey) {
        clusterId = BigInt('0x' + new TextDecoder().decode(v));
      } else if (name.startsWith(MEMBER_KEY_PREFIX)) {
        const id = BigInt('0x' + name.slice(MEMBER_KEY_PREFIX.length));
        byId.set(id, decodeRecord(id, v));
      }
      assert.ok(byId.size <= MEMBER_RECORDS_MAX, 'too many member records');
    }
    return new MemberRecords(clusterId, byId);
  }

  list(): MemberInfo[] {
    return [...this.byId.values()].map((m) => ({ ...m, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] }));
  }

  /** Sets the cluster id (once) and the founding members; ops to write durably. */
  identity(clusterId: NodeId, founders: readonly MemberInfo[]): BackendOp[] {
    assert.ok(this.clusterId === 0n || this.clusterId === clusterId, 'a member never changes cluster');
    const ops: BackendOp[] = [];
    if (clusterId !== 0n && this.clusterId !== clusterId) {
      this.clusterId = clusterId;
      ops.push({ type: 'put', key: CLUSTER_ID_KEY, value: new TextEncoder().encode(clusterId.toString(16).padStart(16, '0')) });
    }
    for (const m of founders) if (!this.byId.has(m.id)) ops.push(this.put({ ...m }));
    return ops;
  }

  /** The effect of an applied ConfChange; ops to stage with the entry's consistent index. */
  apply(cc: ConfChange): BackendOp[] {
    if (cc.type === ConfChangeType.RemoveNode) {
      if (!this.byId.delete(cc.nodeId)) return [];
      return [{ type: 'del', key: memberKey(cc.nodeId) }];
    }
    const c = decodeContext(cc.context);
    const prev = this.byId.get(cc.nodeId) ?? { id: cc.nodeId, name: '', peerURLs: [], clientURLs: [], isLearner: false };
    const next: MemberInfo = { ...prev };
    if (cc.type === ConfChangeType.AddNode) next.isLearner = false;
    if (cc.type === ConfChangeType.AddLearnerNode && !this.byId.has(cc.nodeId)) next.isLearner = true;
    if (c.name !== undefined) next.name = c.name;
    if (c.peerURLs !== undefined) next.peerURLs = c.peerURLs;
    if (c.clientURLs !== undefined) next.clientURLs = c.clientURLs;
    return [this.put(next)];
  }

  private put(m: MemberInfo): BackendOp {
    assert.ok(m.id !== NONE, 'member id 0 is reserved');
    this.byId.set(m.id, m);
    assert.ok(this.byId.size <= MEMBER_RECORDS_MAX, 'too many member records');
    return { type: 'put', key: memberKey(m.id), value: encodeRecord(m) };
  }
}
