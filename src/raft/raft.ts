// The raft state machine (etcd-io/raft's raft.go, rewritten): terms, elections with pre-vote and
// check-quorum, log replication with per-follower flow control, commit, snapshots, one-at-a-time
// membership changes, leader transfer and ReadIndex. Pure and deterministic: inputs are step(),
// tick() and the persistence/apply reports from RawNode; outputs are queued in `msgs` and
// `readStates` and read by RawNode.ready().
//
// Roles swap behaviour by swapping functions: becomeLeader() sets stepRole = stepLeader and
// tickRole = tickHeartbeat, the other roles use tickElection.
//
// Durability rules (pipelined storage, see types.ts): a candidate counts its own vote only once
// the host reports its hard state durable (so a crash cannot make it vote twice in a term); the
// leader counts its own log for commit only up to what the host reported persisted; responses
// that acknowledge local state (MsgAppResp, MsgVoteResp) are marked afterPersist.

import assert from 'node:assert/strict';
import { applyChange, encodeConfChange } from './confchange.js';
import { RaftLog } from './log.js';
import { Progress, ProgressTracker } from './progress.js';
import { PENDING_READ_INDEX_MAX, ReadOnly } from './readonly.js';
import { SeededRng } from './rng.js';
import { EntryType, NONE, RaftError } from './types.js';
import type {
  ConfChange, ConfState, Entry, HardState, Message, MessageType, NodeId, RaftConfig, ReadState,
  SoftState, StateType,
} from './types.js';

/** Context of a MsgVote sent on a leader transfer: receivers skip their leader lease for it. */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');
/** Bound on ReadIndex requests parked until the new leader commits an entry of its term. */
export const PENDING_READ_INDEX_MESSAGES_MAX = 4096;
const EMPTY = new Uint8Array(0);

export function newMessage(m: Partial<Message> & { type: MessageType }): Message {
  return {
    to: NONE, from: NONE, term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false,
    rejectHint: 0, context: EMPTY, afterPersist: false, ...m,
  };
}

export function encodeNodeId(id: NodeId): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, id);
  return b;
}

export function decodeNodeId(b: Uint8Array): NodeId {
  assert.equal(b.byteLength, 8, 'a node id context is 8 bytes');
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

function voteRespType(t: MessageType): MessageType {
  return t === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
}

function payloadBytes(ents: Entry[]): number {
  let n = 0;
  for (const e of ents) n += e.data.byteLength;
  return n;
}

/** Replays the ConfChange entries in (snapshot, applied] of stable storage onto its ConfState. */
function confStateAtApplied(cfg: RaftConfig, cs: ConfState, decode: (d: Uint8Array) => ConfChange): ConfState {
  const first = cfg.storage.firstIndex();
  const hi = Math.min(cfg.applied, cfg.storage.lastIndex());
  if (hi < first) return cs;
  let out = cs;
  for (const e of cfg.storage.entries(first, hi + 1, Number.MAX_SAFE_INTEGER)) {
    if (e.type === EntryType.ConfChange) out = applyChange(out, decode(e.data));
  }
  return out;
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  state: StateType = 'Follower';
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  readOnly = new ReadOnly();
  /** Outgoing messages not yet handed out by ready(). */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  isLearner = false;
  /** Ticks since the last election timeout reset (leader: since the last check-quorum round). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  /** In [electionTick, 2*electionTick), drawn from the seeded RNG at every reset. */
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NONE;
  /** Index of the latest ConfChange appended by this leader; none other while it is unapplied. */
  pendingConfIndex = 0;
  /** Payload bytes of this leader's uncommitted entries (maxUncommittedEntriesSize bound). */
  uncommittedSize = 0;
  /** ReadIndex requests parked until this leader commits an entry of its own term. */
  pendingReadIndexMessages: Message[] = [];
  /** Candidate: its own vote is counted once the host reports the hard state durable. */
  selfVotePending = false;
  /**
   * Leader: a broadcast deferred to the next ready() (flushBroadcasts). Sending one MsgApp per
   * proposal and per commit advance made a burst of N proposals (or N acks) handed out in one
   * Ready cost N messages per follower, where one carries the same information (a later commit
   * index supersedes an earlier one). 'entries': new entries wait to be sent; 'commit': the commit
   * index advanced, so even an empty MsgApp goes out. 'none' whenever not leader.
   */
  bcastPending: 'none' | 'entries' | 'commit' = 'none';
  private readonly rng: SeededRng;
  private stepRole: (m: Message) => void = (m) => this.stepFollower(m);
  private tickRole: () => void = () => this.tickElection();

  constructor(readonly cfg: RaftConfig, decodeCC: (d: Uint8Array) => ConfChange) {
    assert.ok(cfg.id !== NONE, 'raft: id must not be 0');
    assert.ok(cfg.heartbeatTick > 0 && cfg.electionTick > cfg.heartbeatTick, 'raft: need 0 < heartbeatTick < electionTick');
    assert.ok(cfg.maxSizePerMsg > 0 && cfg.maxInflightMsgs > 0, 'raft: maxSizePerMsg and maxInflightMsgs must be > 0');
    this.id = cfg.id;
    this.rng = new SeededRng(cfg.seed);
    this.log = new RaftLog(cfg.storage, cfg.maxSizePerMsg);
    this.trk = new ProgressTracker(cfg.maxInflightMsgs);
    const { hardState, confState } = cfg.storage.initialState();
    const snap = cfg.storage.snapshot();
    // An empty snapshot (the bootstrap one) has no state to restore: applied may be below it.
    const applied = snap.data.byteLength === 0 ? Math.max(cfg.applied, snap.metadata.index) : cfg.applied;
    assert.ok(applied >= this.log.firstIndex() - 1, `applied ${applied} is below the storage's snapshot`);
    this.trk.setConfig(confStateAtApplied({ ...cfg, applied }, confState, decodeCC), Math.max(this.log.lastIndex(), 1));
    this.isLearner = this.trk.learners.has(this.id);
    this.loadState(hardState);
    if (applied > this.log.committed) this.log.commitTo(applied); // applied implies committed
    this.log.applying = Math.max(this.log.applying, applied);
    this.log.applied = Math.max(this.log.applied, applied);
    this.becomeFollower(this.term, NONE);
  }

  /**
   * Restores term, vote and commit from the stored hard state. The stored commit may lag the
   * storage's snapshot: under pipelined writes the host applies (and may snapshot and compact at)
   * entries whose commit index is still in a later, unfinished hard-state write, then crashes. A
   * snapshot at i proves i committed (only applied state is snapshotted), so the commit index is
   * the larger of the two (log.committed starts at the snapshot index).
   */
  private loadState(hs: HardState): void {
    if (hs.term === 0 && hs.vote === NONE && hs.commit === 0) return;
    const snapIndex = this.log.committed;
    assert.equal(snapIndex, this.log.firstIndex() - 1, 'a fresh log is committed up to its snapshot');
    const commit = Math.max(hs.commit, snapIndex);
    assert.ok(commit <= this.log.lastIndex(), `stored commit ${hs.commit} is beyond the last index ${this.log.lastIndex()}`);
    this.log.committed = commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  get electionTimeout(): number {
    return this.cfg.electionTick;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && this.log.unstable.snapshot === undefined;
  }

  /** Queues a message; sets from/term like etcd (proposals and reads are forwarded with term 0). */
  send(m: Partial<Message> & { type: MessageType; to: NodeId }): void {
    const msg = newMessage(m);
    if (m.from === undefined) msg.from = this.id;
    assert.ok(msg.to !== this.id, 'raft never sends a message to itself');
    const voteish = msg.type === 'MsgVote' || msg.type === 'MsgPreVote' || msg.type === 'MsgVoteResp' || msg.type === 'MsgPreVoteResp';
    if (voteish) assert.ok(msg.term !== 0, `${msg.type} must carry a term`);
    else if (msg.type !== 'MsgProp' && msg.type !== 'MsgReadIndex') msg.term = this.term;
    msg.afterPersist = msg.type === 'MsgAppResp' || msg.type === 'MsgVoteResp';
    this.msgs.push(msg);
  }

  // ---- time ----

  tick(): void {
    this.tickRole();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(newMessage({ type: 'MsgHup', from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(newMessage({ type: 'MsgCheckQuorum', from: this.id }));
      if (this.state === 'Leader' && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== 'Leader') return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.step(newMessage({ type: 'MsgBeat', from: this.id }));
    }
  }

  // ---- role transitions ----

  private reset(term: number): void {
    if (term !== this.term) {
      assert.ok(term > this.term, `term goes back ${this.term} -> ${term}`);
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + this.rng.intBelow(this.electionTimeout);
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    this.selfVotePending = false;
    const next = this.log.lastIndex() + 1;
    for (const [id, old] of this.trk.progress) {
      const pr = new Progress(next, this.cfg.maxInflightMsgs, old.isLearner);
      if (id === this.id) pr.match = Math.min(this.log.stableLastIndex(), this.log.lastIndex());
      this.trk.progress.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
    this.bcastPending = 'none';
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.stepRole = (m) => this.stepFollower(m);
    this.tickRole = () => this.tickElection();
    this.reset(term);
    this.lead = lead;
    this.state = 'Follower';
  }

  private becomePreCandidate(): void {
    assert.notEqual(this.state, 'Leader', 'invalid transition Leader -> PreCandidate');
    // Pre-vote changes neither term nor vote: a partitioned node cannot inflate terms.
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = 'PreCandidate';
  }

  private becomeCandidate(): void {
    assert.notEqual(this.state, 'Leader', 'invalid transition Leader -> Candidate');
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = 'Candidate';
    this.selfVotePending = true;
  }

  private becomeLeader(): void {
    assert.notEqual(this.state, 'Follower', 'invalid transition Follower -> Leader');
    this.stepRole = (m) => this.stepLeader(m);
    this.tickRole = () => this.tickHeartbeat();
    this.reset(this.term);
    this.lead = this.id;
    this.state = 'Leader';
    this.trk.progress.get(this.id)!.becomeReplicate();
    // Conservatively treat the whole log as possibly holding an unapplied conf change.
    this.pendingConfIndex = this.log.lastIndex();
    // The empty entry of the new term lets the leader commit older entries (Raft §5.4.2).
    const li = this.log.lastIndex();
    this.log.append([{ term: this.term, index: li + 1, type: EntryType.Normal, data: EMPTY }]);
  }

  // ---- elections ----

  private hasUnappliedConfChanges(): boolean {
    const lo = this.log.applied + 1;
    const hi = this.log.committed + 1;
    if (lo >= hi) return false;
    return this.log.slice(lo, hi, Number.MAX_SAFE_INTEGER).some((e) => e.type === EntryType.ConfChange);
  }

  private hup(transfer: boolean): void {
    if (this.state === 'Leader' || !this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return; // campaign again once they are applied
    this.campaign(this.cfg.preVote && !transfer ? 'PreCandidate' : 'Candidate', transfer);
  }

  private campaign(kind: 'PreCandidate' | 'Candidate', transfer: boolean): void {
    let term: number;
    let type: MessageType;
    if (kind === 'PreCandidate') {
      this.becomePreCandidate();
      type = 'MsgPreVote';
      term = this.term + 1; // the term we would campaign in
      this.trk.recordVote(this.id, true);
    } else {
      this.becomeCandidate();
      type = 'MsgVote';
      term = this.term;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of [...this.trk.voters].sort((a, b) => (a < b ? -1 : 1))) {
      if (id === this.id) continue;
      this.send({ type, to: id, term, index, logTerm, context: transfer ? CAMPAIGN_TRANSFER : EMPTY });
    }
    if (kind === 'PreCandidate') this.checkElection();
  }

  /** A candidate's own vote counts once it is durable (called when the host reports a write). */
  maybeCountSelfVote(): void {
    if (this.state !== 'Candidate' || !this.selfVotePending) return;
    const hs = this.log.storage.initialState().hardState;
    if (hs.term !== this.term || hs.vote !== this.id) return;
    this.selfVotePending = false;
    this.trk.recordVote(this.id, true);
    this.checkElection();
  }

  private checkElection(): void {
    const { result } = this.trk.tallyVotes();
    if (result === 'Won') {
      if (this.state === 'PreCandidate') this.campaign('Candidate', false);
      else {
        this.becomeLeader();
        this.bcastAppend();
      }
    } else if (result === 'Lost') {
      this.becomeFollower(this.term, NONE);
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'MsgPreVote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Answer with the request's term: a pre-vote grant must not look stale to the candidate.
      this.send({ type: voteRespType(m.type), to: m.from, term: m.term });
      if (m.type === 'MsgVote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: voteRespType(m.type), to: m.from, term: this.term, reject: true });
    }
  }

  // ---- step ----

  step(m: Message): void {
    if (m.term > this.term && !this.stepHigherTerm(m)) return;
    if (m.term !== 0 && m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }
    switch (m.type) {
      case 'MsgHup':
        this.hup(false);
        return;
      case 'MsgVote':
      case 'MsgPreVote':
        this.handleVoteRequest(m);
        return;
      default:
        this.stepRole(m);
    }
  }

  /** A message from a later term; false when it is to be ignored. */
  private stepHigherTerm(m: Message): boolean {
    if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
      const inLease = this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
      // Leader lease: while we hear from a live leader, a disrupting candidate gets no answer and
      // does not bump our term (a removed or partitioned node cannot unseat a healthy leader).
      if (!force && inLease) return false;
    }
    if (m.type === 'MsgPreVote') return true; // never change term on a pre-vote
    if (m.type === 'MsgPreVoteResp' && !m.reject) return true; // we bump it when we win
    const fromLeader = m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap';
    this.becomeFollower(m.term, fromLeader ? m.from : NONE);
    return true;
  }

  private stepLowerTerm(m: Message): void {
    if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')) {
      // A stale leader: tell it our term so it steps down (with check-quorum/pre-vote it would
      // otherwise never learn it, since our pre-votes would not bump its term).
      this.send({ type: 'MsgAppResp', to: m.from });
    } else if (m.type === 'MsgPreVote') {
      this.send({ type: 'MsgPreVoteResp', to: m.from, term: this.term, reject: true });
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'MsgProp':
        if (this.lead === NONE) throw new RaftError('ProposalDropped', 'raft: no leader to forward the proposal to');
        this.send({ ...m, to: this.lead }); // keeps `from`, like every forward (see MsgReadIndex)
        return;
      case 'MsgApp':
      case 'MsgHeartbeat':
      case 'MsgSnap':
        this.electionElapsed = 0;
        this.lead = m.from;
        if (m.type === 'MsgApp') this.handleAppendEntries(m);
        else if (m.type === 'MsgHeartbeat') this.handleHeartbeat(m);
        else this.handleSnapshot(m);
        return;
      case 'MsgTransferLeader':
      case 'MsgReadIndex':
        if (this.lead === NONE) {
          if (m.type === 'MsgReadIndex' && m.from === this.id) throw new RaftError('ProposalDropped', 'raft: no leader for read index');
          return;
        }
        // Keep the original `from` (etcd's send only fills an empty From): the leader answers a
        // forwarded read to the node that issued it, not to us, which never asked.
        this.send({ ...m, to: this.lead });
        return;
      case 'MsgTimeoutNow':
        this.hup(true);
        return;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.index, requestCtx: m.context });
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const myResp: MessageType = this.state === 'PreCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
    switch (m.type) {
      case 'MsgProp':
        throw new RaftError('ProposalDropped', 'raft: no leader (election in progress)');
      case 'MsgReadIndex':
        if (m.from === this.id) throw new RaftError('ProposalDropped', 'raft: no leader for read index');
        return;
      case 'MsgApp':
      case 'MsgHeartbeat':
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from); // a leader of our term exists
        this.stepFollower(m);
        return;
      default:
        if (m.type === myResp) {
          this.trk.recordVote(m.from, !m.reject);
          this.checkElection();
        }
    }
  }

  // ---- leader ----

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'MsgBeat':
        this.bcastHeartbeat();
        return;
      case 'MsgCheckQuorum':
        this.checkQuorumActive();
        return;
      case 'MsgProp':
        this.handlePropose(m);
        return;
      case 'MsgReadIndex':
        this.handleReadIndex(m);
        return;
      case 'MsgTransferLeader':
        this.handleTransferLeader(decodeNodeId(m.context));
        return;
      default:
    }
    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) return; // not (or no longer) a member
    switch (m.type) {
      case 'MsgAppResp': this.handleAppendResponse(m, pr); return;
      case 'MsgHeartbeatResp': this.handleHeartbeatResponse(m, pr); return;
      case 'MsgSnapStatus':
        if (pr.state !== 'Snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0; // failed: probe from match
        pr.becomeProbe();
        pr.msgAppFlowPaused = true; // wait for a heartbeat response before probing
        return;
      case 'MsgUnreachable':
        if (pr.state === 'Replicate') pr.becomeProbe();
        return;
      default:
    }
  }

  private checkQuorumActive(): void {
    if (!this.trk.quorumActive(this.id)) {
      this.becomeFollower(this.term, NONE);
      return;
    }
    for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
  }

  private handlePropose(m: Message): void {
    assert.ok(m.entries.length > 0, 'raft: empty proposal');
    if (!this.trk.progress.has(this.id)) throw new RaftError('ProposalDropped', 'raft: leader was removed from the configuration');
    if (this.leadTransferee !== NONE) throw new RaftError('ProposalDropped', 'raft: leader transfer in progress');
    const li = this.log.lastIndex();
    const ents: Entry[] = m.entries.map((e, i) => {
      if (e.type !== EntryType.ConfChange) return { ...e };
      if (this.pendingConfIndex > this.log.applied) {
        // One change at a time: the proposer sees an empty entry where its change would be.
        return { term: 0, index: 0, type: EntryType.Normal, data: EMPTY };
      }
      this.pendingConfIndex = li + i + 1;
      return { ...e };
    });
    if (!this.appendEntries(ents)) throw new RaftError('ProposalDropped', 'raft: too many uncommitted bytes');
    if (this.bcastPending === 'none') this.bcastPending = 'entries';
  }

  private appendEntries(ents: Entry[]): boolean {
    const size = payloadBytes(ents);
    const max = this.cfg.maxUncommittedEntriesSize;
    if (max > 0 && this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > max) return false;
    this.uncommittedSize += size;
    const li = this.log.lastIndex();
    ents.forEach((e, i) => {
      e.term = this.term;
      e.index = li + 1 + i;
    });
    this.log.append(ents);
    return true;
  }

  reduceUncommittedSize(ents: Entry[]): void {
    if (this.state !== 'Leader') return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - payloadBytes(ents));
  }

  /** Commits what a quorum has, if it is of the current term (Raft §5.4.2). */
  maybeCommit(): boolean {
    const mci = this.trk.committed();
    if (mci <= this.log.committed || this.log.term(mci) !== this.term) return false;
    this.log.commitTo(mci);
    this.releasePendingReadIndexMessages();
    return true;
  }

  /** The host made writes durable: the leader's own match may advance; a candidate's vote may count. */
  onPersisted(): void {
    if (this.state === 'Leader') {
      const self = this.trk.progress.get(this.id);
      const durable = Math.min(this.log.stableLastIndex(), this.log.lastIndex());
      if (self && self.maybeUpdate(durable) && this.maybeCommit()) this.bcastPending = 'commit';
    }
    this.maybeCountSelfVote();
  }

  // ---- replication ----

  /**
   * Sends the next MsgApp (or MsgSnap) to `to` if its progress allows; false when nothing was sent.
   * A Replicate follower whose window is full but whose flow a heartbeat response resumed gets an
   * EMPTY MsgApp from `next` (progress.ts header: its ack or rejection resynchronizes the window).
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    let entries: Entry[] = [];
    if (pr.canSendEntries()) {
      try {
        entries = this.log.entriesFrom(pr.next, this.cfg.maxSizePerMsg);
      } catch (err) {
        if (err instanceof RaftError && err.code === 'Compacted') return this.sendSnapshot(to, pr);
        throw err;
      }
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    assert.ok(entries.length === 0 || entries[0]!.index === pr.next, 'a MsgApp starts at next');
    this.send({ type: 'MsgApp', to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    pr.sentEntries(entries.length);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false; // it may be down: do not ship a snapshot into the void
    const snap = this.log.snapshot();
    assert.ok(snap.metadata.index > 0 || this.log.firstIndex() === 1, 'a needed snapshot is never the empty one');
    pr.becomeSnapshot(snap.metadata.index);
    this.send({ type: 'MsgSnap', to, snapshot: snap });
    return true;
  }

  bcastAppend(): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, true);
  }

  /** Sends the broadcast deferred by bcastPending (RawNode.ready() calls this first). */
  flushBroadcasts(): void {
    const pending = this.bcastPending;
    if (pending === 'none') return;
    this.bcastPending = 'none';
    assert.equal(this.state, 'Leader', 'only a leader defers broadcasts (reset clears them)');
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, pending === 'commit');
  }

  private bcastHeartbeat(ctx?: Uint8Array): void {
    const context = ctx ?? this.readOnly.lastPendingCtx() ?? EMPTY;
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit beyond what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'MsgHeartbeat', to: id, commit, context });
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.logTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'Replicate') pr.becomeProbe();
        this.maybeSendAppend(m.from, true);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === 'Probe')) return;
    if (pr.state === 'Probe') pr.becomeReplicate();
    else if (pr.state === 'Snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'Replicate') pr.inflights.freeLE(m.index);
    if (this.maybeCommit()) this.bcastPending = 'commit';
    // A resumed follower gets a MsgApp now, unless the pending commit broadcast will send it one.
    else if (oldPaused && this.bcastPending !== 'commit') this.maybeSendAppend(m.from, true);
    for (let n = 0; n < this.cfg.maxInflightMsgs && this.maybeSendAppend(m.from, false); n++);
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    // The follower is alive: let one MsgApp through even a full window (progress.ts header), so
    // a flow whose MsgApps or acks were lost resynchronizes instead of stalling for ever.
    pr.resumeMsgAppFlow();
    if (pr.match < this.log.lastIndex() || pr.state === 'Probe') this.maybeSendAppend(m.from, true);
    if (m.context.byteLength === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined || !this.trk.hasQuorum(acks)) return;
    for (const rs of this.readOnly.advance(m.context)) this.respondReadIndex(rs.from, rs.index, rs.ctx);
  }

  // ---- follower side of replication ----

  private handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: 'MsgAppResp', to: m.from, index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send({ type: 'MsgAppResp', to: m.from, index: lastNew });
      return;
    }
    // Fast backtracking: point the leader at the last index whose term could match its log.
    const hintIndex = Math.min(m.index, this.log.lastIndex());
    const hint = this.log.findConflictByTerm(hintIndex, m.logTerm);
    this.send({ type: 'MsgAppResp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'MsgHeartbeatResp', to: m.from, context: m.context });
  }

  private handleSnapshot(m: Message): void {
    assert.ok(m.snapshot !== undefined, 'MsgSnap without a snapshot');
    if (this.restore(m.snapshot.metadata.index, m.snapshot.metadata.term, () => this.log.restore(m.snapshot!))) {
      this.trk.setConfig(m.snapshot.metadata.confState, Math.max(this.log.lastIndex(), 1));
      this.isLearner = this.trk.learners.has(this.id);
      this.send({ type: 'MsgAppResp', to: m.from, index: this.log.lastIndex() });
    } else {
      this.send({ type: 'MsgAppResp', to: m.from, index: this.log.committed });
    }
  }

  /** False when the snapshot is stale or our log already has its point (then we just commit). */
  private restore(index: number, term: number, install: () => void): boolean {
    if (index <= this.log.committed) return false;
    assert.equal(this.state, 'Follower', 'only a follower installs a snapshot');
    if (this.log.matchTerm(index, term)) {
      this.log.commitTo(index);
      return false;
    }
    install();
    assert.equal(this.log.committed, index);
    return true;
  }

  // ---- read index ----

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private handleReadIndex(m: Message): void {
    if (this.trk.isSingleton()) {
      this.respondReadIndex(m.from, this.log.committed, m.context);
      return;
    }
    if (!this.committedEntryInCurrentTerm()) {
      // The commit index may lag the true one until our own term's entry commits (§6.4).
      if (this.pendingReadIndexMessages.length >= PENDING_READ_INDEX_MESSAGES_MAX) this.dropRead(m);
      else this.pendingReadIndexMessages.push(m);
      return;
    }
    this.sendReadIndex(m);
  }

  private sendReadIndex(m: Message): void {
    if (this.readOnly.size >= PENDING_READ_INDEX_MAX) {
      this.dropRead(m);
      return;
    }
    if (!this.readOnly.addRequest(this.log.committed, m.from, m.context)) return;
    this.readOnly.recvAck(this.id, m.context);
    this.bcastHeartbeat(m.context);
  }

  private dropRead(m: Message): void {
    if (m.from === this.id) throw new RaftError('ProposalDropped', 'raft: too many pending read index requests');
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) {
      try {
        this.sendReadIndex(m);
      } catch (err) {
        if (!(err instanceof RaftError)) throw err; // a dropped parked read: its host times it out
      }
    }
  }

  private respondReadIndex(from: NodeId, index: number, ctx: Uint8Array): void {
    if (from === NONE || from === this.id) this.readStates.push({ index, requestCtx: ctx });
    else this.send({ type: 'MsgReadIndexResp', to: from, index, context: ctx });
  }

  // ---- leader transfer ----

  private handleTransferLeader(transferee: NodeId): void {
    const pr = this.trk.progress.get(transferee);
    if (pr === undefined || pr.isLearner) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return; // already under way
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return;
    // The transfer must finish within an election timeout (tickHeartbeat aborts it).
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.maybeSendAppend(transferee, true);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'MsgTimeoutNow', to });
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  // ---- membership ----

  /** Applies a committed ConfChange (the host calls this when it applies the entry). */
  applyConfChange(cc: ConfChange): ConfState {
    const cs = applyChange(this.trk.confState(), cc);
    this.switchToConfig(cs);
    return cs;
  }

  private switchToConfig(cs: ConfState): void {
    // New members start probing at the last entry, so there is something to send at once.
    this.trk.setConfig(cs, Math.max(this.log.lastIndex(), 1));
    const pr = this.trk.progress.get(this.id);
    this.isLearner = pr?.isLearner ?? false;
    if ((pr === undefined || this.isLearner) && this.state === 'Leader') {
      this.becomeFollower(this.term, NONE); // a removed leader steps down
      return;
    }
    if (this.state !== 'Leader' || cs.voters.length === 0) return;
    // The quorum may have changed: commit what the new one has, and feed new members.
    if (this.maybeCommit()) this.bcastPending = 'commit';
    else for (const id of this.trk.progress.keys()) this.maybeSendAppend(id, false);
    if (this.leadTransferee !== NONE && !this.trk.voters.has(this.leadTransferee)) this.abortLeaderTransfer();
  }

  /** The encoded ConfChange entry for a proposal. */
  static confChangeEntry(cc: ConfChange): Entry {
    return { term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) };
  }
}
