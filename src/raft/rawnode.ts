// RawNode: the host-facing wrapper around the raft state machine, implementing RawNodeApi and the
// pipelined storage protocol of types.ts. It batches the state machine's output into Ready
// records, remembers what it handed out (so each item is handed out once), and feeds the host's
// persistence and apply reports back in.
//
// Bootstrapping a brand-new cluster: every initial member calls
//   RawNode.bootstrap(storage, initialVoters)
// on an EMPTY MemoryStorage before constructing its RawNode. It installs a snapshot at index 1,
// term 1 (no data) whose ConfState lists the initial voters, with commit 1: all initial members
// start with the same configuration and the same (virtual) first entry, and
// storage.initialState().confState names the voters at once. Why index 1 and not 0: a member that
// JOINS later starts with an empty storage and configuration (it is not bootstrapped); the
// leader's log starts after index 1, so the joiner is sent this snapshot and learns the initial
// configuration from it (then the later ConfChange entries). The host must make the bootstrap
// snapshot durable itself (e.g. a WAL snapshot marker of storage.snapshot().metadata), since it
// does not pass through ready().
//
// Restarting: build the MemoryStorage from what was durable (snapshot, entries, hard state) and
// construct a RawNode with `applied` = the state machine's applied index. The configuration is the
// snapshot's plus the ConfChange entries up to `applied` (later ones the host applies again, as it
// re-applies every committed entry after `applied`).
//
// Contract with the host, beyond types.ts: the host appends a completed write to the Storage
// BEFORE calling onPersisted() (the core reads the stable log and hard state back from it).

import assert from 'node:assert/strict';
import { decodeConfChange, encodeConfChange } from './confchange.js';
import { Raft, encodeNodeId, newMessage } from './raft.js';
import { EMPTY_SNAPSHOT_DATA, type MemoryStorage } from './storage.js';
import { EntryType, NONE, RaftError } from './types.js';
import type {
  ConfChange, ConfState, HardState, Message, MessageType, NodeId, ProgressStatus, RaftConfig, RaftStatus,
  RawNodeApi, Ready, SoftState,
} from './types.js';

const LOCAL_MESSAGES: ReadonlySet<MessageType> = new Set(['MsgHup', 'MsgBeat', 'MsgUnreachable', 'MsgSnapStatus', 'MsgCheckQuorum']);
const RESPONSE_MESSAGES: ReadonlySet<MessageType> = new Set(['MsgAppResp', 'MsgVoteResp', 'MsgHeartbeatResp', 'MsgUnreachable', 'MsgPreVoteResp']);

/** Where RawNode.bootstrap() puts the initial configuration (see the header). */
export const BOOTSTRAP_INDEX = 1;
export const BOOTSTRAP_TERM = 1;

export class RawNode implements RawNodeApi {
  readonly raft: Raft;
  /** Soft and hard state as last handed out by ready(). */
  private prevSoft: SoftState;
  private prevHard: HardState;
  /** The last Ready handed out and not yet advanced. */
  private outstanding: Ready | undefined;

  constructor(cfg: RaftConfig) {
    this.raft = new Raft(cfg, decodeConfChange);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  /** Writes the initial configuration of a new cluster into an empty storage (see header). */
  static bootstrap(storage: MemoryStorage, voters: NodeId[], learners: NodeId[] = []): void {
    assert.ok(voters.length > 0, 'bootstrap: at least one voter');
    assert.ok(voters.every((v) => v !== NONE) && !learners.some((l) => voters.includes(l)), 'bootstrap: bad member ids');
    const { hardState } = storage.initialState();
    assert.ok(storage.lastIndex() === 0 && hardState.term === 0, 'bootstrap: storage is not empty');
    const confState: ConfState = { voters: [...voters], learners: [...learners] };
    storage.applySnapshot({ metadata: { index: BOOTSTRAP_INDEX, term: BOOTSTRAP_TERM, confState }, data: EMPTY_SNAPSHOT_DATA });
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  campaign(): void {
    this.raft.step(newMessage({ type: 'MsgHup', from: this.id }));
  }

  propose(data: Uint8Array): void {
    const entries = [{ term: 0, index: 0, type: EntryType.Normal, data }];
    this.raft.step(newMessage({ type: 'MsgProp', from: this.id, entries }));
  }

  proposeConfChange(cc: ConfChange): void {
    const entries = [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }];
    this.raft.step(newMessage({ type: 'MsgProp', from: this.id, entries }));
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  step(msg: Message): void {
    if (LOCAL_MESSAGES.has(msg.type)) throw new RaftError('StepLocalMsg');
    if (RESPONSE_MESSAGES.has(msg.type) && !this.raft.trk.progress.has(msg.from)) throw new RaftError('StepPeerNotFound');
    this.raft.step(msg);
  }

  readIndex(ctx: Uint8Array): void {
    this.raft.step(newMessage({ type: 'MsgReadIndex', from: this.id, context: ctx }));
  }

  transferLeader(transferee: NodeId): void {
    this.raft.step(newMessage({ type: 'MsgTransferLeader', from: this.id, context: encodeNodeId(transferee) }));
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(newMessage({ type: 'MsgUnreachable', from: id }));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(newMessage({ type: 'MsgSnapStatus', from: id, reject: !ok }));
  }

  // ---- Ready / advance ----

  hasReady(): boolean {
    const r = this.raft;
    if (r.msgs.length > 0 || r.readStates.length > 0 || r.bcastPending !== 'none') return true;
    if (!softEqual(r.softState(), this.prevSoft) || !hardEqual(r.hardState(), this.prevHard)) return true;
    const u = r.log.unstable;
    if (u.offsetInProgress < u.end() || r.log.nextUnstableSnapshot() !== undefined) return true;
    return r.log.hasNextCommittedEntries();
  }

  ready(): Ready {
    assert.equal(this.outstanding, undefined, 'ready() called again before advance()');
    const r = this.raft;
    r.flushBroadcasts(); // the MsgApps deferred since the last ready(), one per follower
    const log = r.log;
    const rd: Ready = {
      entries: log.nextUnstableEntries(), committedEntries: log.nextCommittedEntries(),
      messages: r.msgs, readStates: r.readStates, mustSync: false,
    };
    const snap = log.nextUnstableSnapshot();
    if (snap !== undefined) rd.snapshot = snap;
    const soft = r.softState();
    if (!softEqual(soft, this.prevSoft)) rd.softState = soft;
    const hard = r.hardState();
    if (!hardEqual(hard, this.prevHard)) rd.hardState = hard;
    const voteChanged = hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote;
    rd.mustSync = rd.entries.length > 0 || snap !== undefined || voteChanged;
    // Everything in rd is now handed out: the next ready() carries only newer work.
    r.msgs = [];
    r.readStates = [];
    log.acceptUnstable();
    if (snap !== undefined) log.applyingTo(snap.metadata.index);
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      log.applyingTo(lastCommitted.index);
      r.reduceUncommittedSize(rd.committedEntries);
    }
    this.prevSoft = soft;
    this.prevHard = hard;
    this.releaseAcksIfDurable(rd);
    this.outstanding = rd;
    return rd;
  }

  /**
   * An afterPersist message may leave at once when what it acknowledges is already durable:
   * a rejection claims nothing; an append ack up to the stable last index claims only stored
   * entries; a vote grant needs the vote in the stored hard state. Without this, every no-op
   * MsgApp ack would queue behind unrelated writes (and a slow disk would fall ever further back).
   */
  private releaseAcksIfDurable(rd: Ready): void {
    const log = this.raft.log;
    let stored: HardState | undefined;
    for (const m of rd.messages) {
      if (!m.afterPersist) continue;
      if (m.reject) m.afterPersist = false;
      else if (m.type === 'MsgAppResp') m.afterPersist = m.index > log.stableLastIndex();
      else if (m.type === 'MsgVoteResp') {
        stored ??= log.storage.initialState().hardState;
        m.afterPersist = !(stored.term === m.term && stored.vote === m.to);
      }
    }
  }

  advance(rd: Ready): void {
    assert.ok(this.outstanding === rd, 'advance() with a Ready that was not the last one handed out');
    this.outstanding = undefined;
  }

  onPersisted(p: { index: number; term: number; snapshotIndex?: number }): void {
    const log = this.raft.log;
    if (p.snapshotIndex !== undefined) log.stableSnapTo(p.snapshotIndex);
    log.stableTo(p.index, p.term);
    this.raft.onPersisted();
  }

  onApplied(index: number): void {
    this.raft.log.appliedTo(index);
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress = new Map<NodeId, ProgressStatus>();
    if (r.state === 'Leader') for (const [id, pr] of r.trk.progress) progress.set(id, pr.status());
    return {
      id: r.id, hardState: r.hardState(), softState: r.softState(), applied: r.log.applied,
      leadTransferee: r.leadTransferee, progress, confState: r.trk.confState(),
    };
  }
}

function softEqual(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.raftState === b.raftState;
}

function hardEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
