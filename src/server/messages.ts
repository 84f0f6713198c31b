// The mailboxes of a member's actors: one discriminated union per receiving side and sender.
//
//   main (gateway, member)  --RaftIn-->  raft-node  --WalIn-->   wal-writer
//                           <--RaftOut--            <--WalOut--
//                                        raft-node  --ApplyIn--> mvcc-apply
//                                                   <--ApplyOut--
//   main                    --ApplyIn (reads, status)--> mvcc-apply --MainIn--> main
//
// Writes: main batches proposals to raft-node; raft-node hands entries to wal-writer and, once
// they are durable and committed, to mvcc-apply, which answers main directly with the results.
// Linearizable reads: main hands them to raft-node, which confirms a read index (one ReadIndex
// per batch) and passes them to mvcc-apply with that index; mvcc-apply serves them once it has
// applied that far. Serializable reads go from main straight to mvcc-apply.

import type { ErrorData } from '../api/errors.js';
import type { KeyValue, RangeRequest, RangeResponse, TxnRequest, TxnResponse, ResponseHeader } from '../api/types.js';
import type { Entry, HardState, Snapshot, SnapshotMetadata, SoftState, NodeId } from '../raft/types.js';
import type { LeaseQuery } from '../lease/lease-apply.js';
import type { ForwardItem } from '../transport/codec.js';
import type { MemberInfo, MembershipRequest } from './membership.js';

/** A client request waiting for an answer, by id (unique within this member's lifetime). */
export type RequestId = bigint;

export interface ProposalItem {
  id: RequestId;
  /** encodeRaftRequest() output: what goes into the raft entry. */
  data: Uint8Array;
}

export type ReadItem =
  | { id: RequestId; kind: 'range'; req: RangeRequest }
  | { id: RequestId; kind: 'txn'; req: TxnRequest };

export interface RaftStatusReply {
  memberId: NodeId;
  leader: NodeId;
  term: number;
  commit: number;
  lastIndex: number;
  applied: number;
  soft: SoftState;
}

// ---- to raft-node ----
export type RaftIn =
  | { type: 'propose'; items: ProposalItem[] }
  | { type: 'read'; items: ReadItem[] }
  | { type: 'status'; id: RequestId }
  /** Cluster membership (src/server/membership.ts): the list, or a change answered once applied. */
  | { type: 'members'; id: RequestId }
  | { type: 'memberChange'; id: RequestId; req: MembershipRequest }
  /** etcd's MoveLeader: answered once `target` leads, or with an error. */
  | { type: 'transferLeader'; id: RequestId; target: NodeId }
  /** Failpoint (TETCD_FAILPOINTS=1, SIGUSR2; see src/cli/tetcd.ts): drop all peer traffic or resume it. */
  | { type: 'blockPeers'; on: boolean }
  /** Peer forwarding (src/server/peer-forwarder.ts): a batch of requests for, or responses to, member `to`. */
  | { type: 'forward'; to: NodeId; response: boolean; items: ForwardItem[] }
  | { type: 'stop' };

export type RaftFromWal =
  | { type: 'loaded'; hardState: HardState; entries: Entry[]; snapshot?: Snapshot }
  | { type: 'persisted'; seq: number; index: number; term: number; snapshotIndex?: number };

export type RaftFromApply =
  /** `clusterId` 0: none stored yet; `members`: the backend's member records (membership.ts). */
  | { type: 'opened'; consistentIndex: number; consistentTerm: number; clusterId: NodeId; members: MemberInfo[] }
  | { type: 'applied'; index: number }
  /** The store is durable (synced) up to `index`: raft-node may snapshot and compact there. */
  | { type: 'durable'; index: number }
  /** A dump of the store for a MsgSnap (SnapshotDataRequest's answer); no data when too large. */
  | { type: 'snapshotData'; seq: number; data?: Uint8Array; index: number; error?: string }
  /** A snapshot received from the leader replaced the store, durably (see ApplyIn 'restore'). */
  | { type: 'restored'; index: number; members: MemberInfo[] }
  /** Proposals mvcc-apply makes itself (the leader's lease revokes and checkpoints); results unwatched. */
  | { type: 'propose'; items: ProposalItem[] };

// ---- from raft-node to main ----
export type RaftOut =
  /** `clusterId`: the cluster's id, stored, from the flags, or adopted from the peers (a joiner). */
  | { type: 'started'; memberId: NodeId; clusterId: NodeId }
  | { type: 'dropped'; ids: RequestId[]; error: ErrorData }
  | { type: 'status'; id: RequestId; status: RaftStatusReply }
  | { type: 'soft'; soft: SoftState; term: number }
  /** Answer to 'members' and 'memberChange' (`member`: the one added, for add). */
  | { type: 'members'; id: RequestId; members: MemberInfo[]; term: number; member?: MemberInfo }
  | { type: 'transferred'; id: RequestId; term: number }
  /** This member's own removal was applied: it must stop (etcd exits). */
  | { type: 'removed' }
  /** Peer forwarding: a batch from member `from` (requests to serve, or responses to ours). */
  | { type: 'forwarded'; from: NodeId; response: boolean; items: ForwardItem[] }
  /** Forwarded requests that could not be sent to `to` (not connected, queue full): retry or fail. */
  | { type: 'forwardFailed'; to: NodeId; ids: bigint[] }
  /** The transport lost (or could not keep up with) `peer` after forwarded requests went to it. */
  | { type: 'peerUnreachable'; peer: NodeId }
  | { type: 'stopped' };

// ---- to wal-writer ----
export type WalIn =
  | { type: 'load' }
  | { type: 'append'; seq: number; entries: Entry[]; hardState?: HardState; snapshot?: Snapshot }
  /** Log compaction: a snapshot marker at metadata.index, then release segments up to releaseTo. */
  | { type: 'snapshot'; metadata: SnapshotMetadata; releaseTo: number }
  | { type: 'close' };

// ---- to mvcc-apply ----
export type ApplyIn =
  | { type: 'apply'; entries: Entry[]; term: number }
  | { type: 'read'; items: ReadItem[]; index: number; term: number }
  | { type: 'failReads'; ids: RequestId[]; error: ErrorData }
  /** Dump the whole store (for a follower behind the log's start); answered by 'snapshotData'. */
  | { type: 'snapshotData'; seq: number }
  /** Replace the whole store by a leader's dump; raft's snapshot is at `index` (data may be later). */
  | { type: 'restore'; index: number; data: Uint8Array }
  | { type: 'status'; id: RequestId }
  | { type: 'close'; id: RequestId }
  | ReadEventsRequest
  | { type: 'watchStatus'; id: RequestId }
  | HashRequest
  /** From raft-node: this member leads at `term` (the lessor is promoted at that term) or not. */
  | { type: 'leadership'; leader: boolean; term: number }
  /** From raft-node: store the cluster id (once) and a new cluster's founding members, durably. */
  | { type: 'cluster'; clusterId: NodeId; founders: MemberInfo[] }
  /** From main: a lease keep-alive, time-to-live or listing, answered as a result item. */
  | { type: 'leaseQuery'; id: RequestId; query: LeaseQuery };

// ---- watch plumbing (main <-> mvcc-apply) ----
//
// mvcc-apply posts the changes of each apply batch as ONE `events` message, before the results
// of that batch, on the same port: so by the time a client sees its write acknowledged, the watch
// hub has seen the write's events (a watch created after the ack starts after them).

/** One change, as watch events carry it (mvcc's MvccEvent, plain and cloneable). */
export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
  prevKv?: KeyValue;
}

/** The events of one write txn: all of them share `revision` (the txn's main revision). */
export interface RevisionEvents {
  revision: number;
  events: WatchEvent[];
}

/** Reads history for watch catch-up: revisions fromRev..toRev, at most ~maxEvents events. */
export interface ReadEventsRequest {
  type: 'readEvents';
  id: RequestId;
  fromRev: number;
  toRev: number;
  maxEvents: number;
  /** Fill prevKv of each event (one read at revision - 1 per event). */
  prevKv: boolean;
}

export type ReadEventsReply =
  /** Revisions fromRev..nextRev-1 read; every event in them is in `revisions`, in order. */
  | { type: 'readEvents'; id: RequestId; revisions: RevisionEvents[]; nextRev: number }
  /** fromRev is below the compaction point. */
  | { type: 'readEvents'; id: RequestId; compactRevision: number };

export interface WatchStatusReply {
  type: 'watchStatus';
  id: RequestId;
  /** The revision of the last `events` message posted (events above it come later). */
  revision: number;
  compactRevision: number;
  raftTerm: number;
}

// ---- maintenance hashes (main <-> mvcc-apply) ----

/**
 * etcd's Hash (`kv: false`: the whole backend but the consistent index) or HashKV (`kv: true`:
 * the KV history up to `revision`, 0 meaning the current one). mvcc-apply commits what it has
 * applied first, so the hash covers every write applied before the request arrived.
 */
export interface HashRequest {
  type: 'hash';
  id: RequestId;
  kv: boolean;
  revision: number;
}

export type HashReply =
  /** header.revision: the store's current revision when the hash was finished. */
  | { type: 'hash'; id: RequestId; hash: number; compactRevision: number; header: ResponseHeader }
  | { type: 'hash'; id: RequestId; err: ErrorData };

// ---- from mvcc-apply to main ----
export type ResultItem =
  | { id: RequestId; ok: unknown }
  | { id: RequestId; err: ErrorData };

export interface ApplyStatusReply {
  revision: number;
  compactRevision: number;
  dbSizeBytes: number;
  consistentIndex: number;
  header: ResponseHeader;
}

export type MainFromApply =
  | { type: 'results'; items: ResultItem[] }
  | { type: 'status'; id: RequestId; status: ApplyStatusReply }
  | { type: 'closed'; id: RequestId }
  | { type: 'events'; revisions: RevisionEvents[]; raftTerm: number }
  | ReadEventsReply
  | WatchStatusReply
  | HashReply
  /** Lease ids granted/revoked by the batch (posted before its results); `reset`: the whole set. */
  | { type: 'leaseIds'; reset: boolean; granted: bigint[]; revoked: bigint[] }
  /**
   * The store was replaced by a leader's snapshot, now at `revision`: the revisions in between
   * never come as 'events' (the watch hub re-reads them from history for its watchers).
   */
  | { type: 'storeRestored'; revision: number; compactRevision: number };

export type { RangeResponse, TxnResponse };
