// The raft core's public contract: the records it exchanges with its host (the raft-node actor,
// or the deterministic simulation in test/sim) and the shape of RawNode.
//
// The core is pure: it never does I/O, never reads a clock, never draws unseeded randomness.
// The host drives it with `tick()` (time), `step(msg)` (network), `propose()`/`readIndex()`/
// `proposeConfChange()`/`transferLeader()` (clients), and collects its output with `ready()`.
//
// Storage writes are asynchronous and pipelined (etcd-io/raft's AsyncStorageWrites idea):
//
//   rd = node.ready()          // hands out NEW work only; each item is handed out once
//   send rd.messages where !m.afterPersist        -> network, at once
//   append rd.entries / rd.hardState / rd.snapshot -> WAL (in order of ready() calls)
//   apply rd.committedEntries                       -> state machine (in order)
//   node.advance(rd)          // at once: the host has TAKEN the ready; the next ready() may follow
//                             // before any write of this one completes
//   ... later, when the WAL reports that this ready's writes are durable:
//   send rd.messages where m.afterPersist           -> network
//   node.onPersisted({ index, term, snapshotIndex? })
//   ... later, when the state machine has applied up to i:
//   node.onApplied(i)
//
// `committedEntries` only ever contains entries that this node has itself persisted (reported by
// onPersisted), so a crash never applies what the log could lose. A leader may replicate to
// followers while its own write is in flight; its own match index advances only on onPersisted.

/** Raft node id. etcd uses the 64-bit member id; 0n means "none". */
export type NodeId = bigint;
export const NONE: NodeId = 0n;

export const EntryType = { Normal: 0, ConfChange: 1 } as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Normal: the application's command (empty for the leader's no-op); ConfChange: encoded ConfChange. */
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  /** The application's state at metadata.index (opaque to raft). */
  data: Uint8Array;
}

export const ConfChangeType = {
  AddNode: 0,
  RemoveNode: 1,
  UpdateNode: 2,
  AddLearnerNode: 3,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Opaque to raft (etcd puts the member's JSON here). */
  context: Uint8Array;
}

export type StateType = 'Follower' | 'PreCandidate' | 'Candidate' | 'Leader';

export interface SoftState {
  lead: NodeId;
  raftState: StateType;
}

export interface ReadState {
  /** Commit index the read may be served at, once the state machine has applied it. */
  index: number;
  /** The context given to readIndex(); identifies the batch of reads. */
  requestCtx: Uint8Array;
}

export type MessageType =
  | 'MsgHup' | 'MsgBeat' | 'MsgProp' | 'MsgApp' | 'MsgAppResp' | 'MsgVote' | 'MsgVoteResp'
  | 'MsgSnap' | 'MsgHeartbeat' | 'MsgHeartbeatResp' | 'MsgUnreachable' | 'MsgSnapStatus'
  | 'MsgCheckQuorum' | 'MsgTransferLeader' | 'MsgTimeoutNow' | 'MsgReadIndex'
  | 'MsgReadIndexResp' | 'MsgPreVote' | 'MsgPreVoteResp';

/** One raft message. Fields follow etcd's raftpb.Message; unused ones are 0 / empty. */
export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
  /**
   * Host-only flag (never sent on the wire meaningfully): true when this message acknowledges
   * local state (votes, append responses) and so may leave only after the ready() it came with
   * has been persisted; false when it may be sent at once (e.g. the leader's MsgApp).
   */
  afterPersist: boolean;
}

export interface Ready {
  softState?: SoftState;
  /** Set when term, vote or commit changed since the last handed-out hard state. */
  hardState?: HardState;
  /** Entries to append to stable storage (an entry at an index that already exists replaces it and all after it). */
  entries: Entry[];
  /** A snapshot to persist and install (follower catching up); entries follow it. */
  snapshot?: Snapshot;
  /** Entries to apply, in order, contiguous with the previous ready's. */
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
  /** True when hardState/entries/snapshot must be fsynced before afterPersist messages go. */
  mustSync: boolean;
}

/**
 * The stable log as the host has it: what was persisted (and survived a restart). The host
 * appends to it when a write becomes durable. Modeled on etcd's raft.Storage.
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries [lo, hi), at most maxBytes in total (always at least one if any). Throws ErrCompacted/ErrUnavailable. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export interface RaftConfig {
  id: NodeId;
  /** Ticks without a leader before campaigning; randomized in [electionTick, 2*electionTick). */
  electionTick: number;
  heartbeatTick: number;
  storage: Storage;
  /** Last index applied by the state machine (on restart). */
  applied: number;
  /** Max bytes of entries per MsgApp. */
  maxSizePerMsg: number;
  /** Max in-flight MsgApp per follower in replicate state. */
  maxInflightMsgs: number;
  /** Max bytes of uncommitted entries the leader accepts before dropping proposals (0 = no limit). */
  maxUncommittedEntriesSize: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Seed of the deterministic RNG used for randomized election timeouts. */
  seed: number;
}

/** Errors the core returns to the host (as thrown RaftError with one of these codes). */
export type RaftErrorCode =
  | 'ProposalDropped' | 'Compacted' | 'Unavailable' | 'SnapOutOfDate' | 'StepLocalMsg'
  | 'StepPeerNotFound' | 'NotLeader' | 'TransferInProgress';

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  constructor(code: RaftErrorCode, message?: string) {
    super(message ?? `raft: ${code}`);
    this.name = 'RaftError';
    this.code = code;
  }
}

/** The shape of the core's node (implemented by RawNode in rawnode.ts). */
export interface RawNodeApi {
  tick(): void;
  /** Starts an election now (MsgHup). */
  campaign(): void;
  propose(data: Uint8Array): void;
  proposeConfChange(cc: ConfChange): void;
  /** Applies a committed ConfChange entry's change to the tracker; returns the new ConfState. */
  applyConfChange(cc: ConfChange): ConfState;
  step(msg: Message): void;
  readIndex(ctx: Uint8Array): void;
  transferLeader(transferee: NodeId): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(rd: Ready): void;
  onPersisted(p: { index: number; term: number; snapshotIndex?: number }): void;
  onApplied(index: number): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, ok: boolean): void;
  status(): RaftStatus;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: 'Probe' | 'Replicate' | 'Snapshot';
  isLearner: boolean;
  recentActive: boolean;
}

export interface RaftStatus {
  id: NodeId;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  leadTransferee: NodeId;
  /** Only on the leader. */
  progress: Map<NodeId, ProgressStatus>;
  confState: ConfState;
}
