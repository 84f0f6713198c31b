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
import type { Entry, HardState, Snapshot, SoftState, NodeId } from '../raft/types.js';

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
  | { type: 'stop' };

export type RaftFromWal =
  | { type: 'loaded'; hardState: HardState; entries: Entry[]; snapshot?: Snapshot }
  | { type: 'persisted'; seq: number; index: number; term: number; snapshotIndex?: number };

export type RaftFromApply =
  | { type: 'opened'; consistentIndex: number; consistentTerm: number }
  | { type: 'applied'; index: number };

// ---- from raft-node to main ----
export type RaftOut =
  | { type: 'started'; memberId: NodeId }
  | { type: 'dropped'; ids: RequestId[]; error: ErrorData }
  | { type: 'status'; id: RequestId; status: RaftStatusReply }
  | { type: 'soft'; soft: SoftState; term: number }
  | { type: 'stopped' };

// ---- to wal-writer ----
export type WalIn =
  | { type: 'load' }
  | { type: 'append'; seq: number; entries: Entry[]; hardState?: HardState; snapshot?: Snapshot }
  | { type: 'close' };

// ---- to mvcc-apply ----
export type ApplyIn =
  | { type: 'apply'; entries: Entry[]; term: number }
  | { type: 'read'; items: ReadItem[]; index: number; term: number }
  | { type: 'failReads'; ids: RequestId[]; error: ErrorData }
  | { type: 'status'; id: RequestId }
  | { type: 'close'; id: RequestId }
  | ReadEventsRequest
  | { type: 'watchStatus'; id: RequestId };

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
  | WatchStatusReply;

export type { RangeResponse, TxnResponse };
