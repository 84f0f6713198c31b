// raft-node actor: hosts the consensus core (src/raft) and does everything the core may not:
// it keeps time (ticks), hands entries to wal-writer and committed entries to mvcc-apply, and
// feeds their acknowledgements back. It follows the pipelined protocol of src/raft/types.ts: a
// ready() is handed out at once, its writes complete later, and afterPersist messages leave only
// when the WAL has made that ready durable.
//
// Batching: every mailbox handler only records work and schedules one processing round per
// macrotask, so a burst of proposals from the gateway becomes one ready(), one WAL append and one
// apply message.
//
// Peers: the PeerTransport (src/transport) lives in this thread, so a raft message goes from the
// core to the socket without another hop. Whatever a peer sends is stepped into the core; a
// message the core rejects (RaftError) is logged and dropped, never fatal.
//
// Log compaction: mvcc-apply reports 'durable' every --snapshot-count applied entries; the log is
// then snapshotted at that index (metadata only: the data of a snapshot is the store itself) and
// compacted, keeping SNAPSHOT_CATCH_UP_ENTRIES behind it for slow followers, and the WAL writes a
// snapshot marker and drops the segments below. A follower that needs compacted entries gets a
// MsgSnap whose data is a dump of mvcc-apply's store, taken when the message leaves. A MsgSnap
// received is installed in this order: mvcc-apply replaces its store durably, THEN the WAL records
// the snapshot (later WAL writes wait for it), so a crash in between never leaves a WAL that
// claims state the store lacks.
//
// Membership: MembershipKeeper (src/server/membership.ts) answers member list/add/remove/update/
// promote and leader transfers, follows every applied ConfChange (attributes, transport peers,
// this member's own removal), and publishes this member's name and client URLs. A member that
// joins (--initial-cluster-state existing) does not bootstrap: it learns the log from the leader.
// The member records and the cluster id are kept in mvcc-apply's backend: they come back with
// 'opened' and 'restored'. A joiner starts without a cluster id (0): its transport adopts the
// running cluster's from the first peer handshake, raft-node has mvcc-apply store it, and only
// then tells main it has started (main's response headers carry that id).

import assert from 'node:assert/strict';
import type { MessagePort } from 'node:worker_threads';
import { Coalescer, Outbox, actorBoot, assertNever, mainPort, receive } from '../src/actors/runtime.js';
import { ERRORS } from '../src/api/errors.js';
import { createActorLogger } from '../src/server/log.js';
import { startCpuProfile } from '../src/server/profile.js';
import type { RaftInit } from '../src/server/member-init.js';
import type {
  ApplyIn, RaftFromApply, RaftFromWal, RaftIn, RaftOut, ReadItem, RequestId, WalIn,
} from '../src/server/messages.js';
import { RawNode } from '../src/raft/rawnode.js';
import { SeededRng } from '../src/raft/rng.js';
import { EMPTY_SNAPSHOT_DATA, MemoryStorage } from '../src/raft/storage.js';
import { decodeConfChange } from '../src/raft/confchange.js';
import { EntryType, NONE, RaftError } from '../src/raft/types.js';
import type { ConfState, Entry, HardState, Message, NodeId, Ready, Snapshot } from '../src/raft/types.js';
import { PeerTransport } from '../src/transport/transport.js';
import { splitForwardItems } from '../src/transport/codec.js';
import { MembershipKeeper } from '../src/server/membership.js';

const boot = actorBoot<RaftInit>();
const stopProfile = startCpuProfile(boot.name);
const init = boot.init;
const log = createActorLogger(init.logLevel, boot.name, init.memberName);
const walPort = boot.ports.wal as MessagePort;
const applyPort = boot.ports.apply as MessagePort;
assert.ok(walPort && applyPort, 'raft-node needs its wal and apply ports');
const toWal = new Outbox<WalIn>(walPort);
const toApply = new Outbox<ApplyIn>(applyPort);
const toMain = new Outbox<RaftOut>(mainPort());

/** Max bytes of entries per MsgApp; etcd's default is 1 MiB. */
const MAX_SIZE_PER_MSG_BYTES = 1024 * 1024;
/** Max in-flight MsgApp per follower; etcd's default. */
const MAX_INFLIGHT_MSGS = 512;
/** Read batches waiting for their ReadState; each batch is one readIndex() call. */
const PENDING_READ_BATCHES_MAX = 4096;
/** MsgSnaps waiting for their store dump; raft sends at most one per follower at a time. */
const SNAPSHOT_DUMPS_PENDING_MAX = 16;
/** WAL writes held while a received snapshot is installed in the store (see header). */
const WAL_HELD_WRITES_MAX = 100_000;

interface InflightWrite {
  seq: number;
  entries: Entry[];
  hardState?: HardState;
  snapshot?: Snapshot;
  /** Messages that may leave only once this write is durable. */
  after: Message[];
}

let node: RawNode | undefined;
let storage: MemoryStorage | undefined;
let loaded: Extract<RaftFromWal, { type: 'loaded' }> | undefined;
let opened: Extract<RaftFromApply, { type: 'opened' }> | undefined;
/** Writes handed to wal-writer, oldest first; wal-writer answers them in order. */
const inflight: InflightWrite[] = [];
let writeSeq = 0;
/** Current term and leader, from the latest ready(). */
let term = 0;
let lead = NONE;
/** Whether mvcc-apply was last told that this member leads (its lessor expires leases only then). */
let leaderToldApply = false;
/** Linearizable reads waiting for leadership confirmation, by readIndex context. */
const pendingReads = new Map<string, ReadItem[]>();
let readCtxSeq = 0;
let stopping = false;
let transport: PeerTransport | undefined;
/** MsgSnaps waiting for mvcc-apply's dump of the store, by dump request seq. */
const snapshotDumps = new Map<number, Message>();
let dumpSeq = 0;
/**
 * While defined, a received snapshot is being installed in the store and WAL writes wait here
 * (in order) until mvcc-apply says it is durable; undefined otherwise.
 */
let walHeld: WalIn[] | undefined;
/** Snapshots handed to mvcc-apply and not yet reported restored (walHeld is set while > 0). */
let restoresPending = 0;
/**
 * The configuration after each conf change handed to apply, oldest first; entry 0 holds at the
 * log's snapshot point. A snapshot at index i takes the last one at or below i.
 */
let confStates: { index: number; confState: ConfState }[] = [];
/**
 * Peers that were sent forwarded requests (main's PeerForwarder) since the last time main was
 * told they are unreachable: only then is a loss worth a message (main fails what waits on it).
 */
const forwardedTo = new Set<NodeId>();
/** The cluster id: stored in the backend, else from the flags; 0 until a joiner adopted its peers'. */
let clusterId: NodeId = init.clusterId;
/** Whether main was told 'started' (once the transport listens and the cluster id is known). */
let startedSent = false;
let transportReady = false;

const rounds = new Coalescer(processReady);

/** Cluster membership, member list and leader transfer (src/server/membership.ts). */
const membership = new MembershipKeeper({
  init,
  log,
  toMain: (m) => toMain.send(m),
  node: () => node,
  transport: () => transport,
  lead: () => lead,
  term: () => term,
  stopping: () => stopping,
  schedule: () => rounds.schedule(),
});

function start(): void {
  assert.ok(loaded && opened, 'start() before load and open');
  storage = new MemoryStorage();
  const fresh = loaded.entries.length === 0 && loaded.hardState.term === 0 && !loaded.snapshot;
  if (loaded.snapshot) storage.applySnapshot(loaded.snapshot);
  storage.setHardState(loaded.hardState);
  storage.append(loaded.entries);
  if (fresh && init.join !== true) bootstrap(storage);
  node = new RawNode({
    id: init.memberId,
    electionTick: init.electionTick,
    heartbeatTick: init.heartbeatTick,
    storage,
    // A store restored from a leader's snapshot may be ahead of a log whose snapshot marker was
    // not written yet (crash in between): raft must not believe entries it lacks are applied.
    applied: Math.min(opened.consistentIndex, storage.lastIndex()),
    maxSizePerMsg: MAX_SIZE_PER_MSG_BYTES,
    maxInflightMsgs: MAX_INFLIGHT_MSGS,
    maxUncommittedEntriesSize: 0,
    preVote: true,
    checkQuorum: true,
    seed: init.seed,
  });
  log.info({ entries: loaded.entries.length, applied: opened.consistentIndex, fresh }, 'raft: node started');
  initIdentity(opened, fresh && init.join !== true);
  membership.seed(opened.members);
  membership.restore(node, loaded.entries);
  loaded = undefined;
  const { confState } = storage.initialState();
  confStates = [{ index: storage.snapshot().metadata.index, confState }];
  // raft replayed the ConfChanges in (snapshot, applied] of the log: a later snapshot must carry
  // that configuration, not the one of the last snapshot.
  const now = node.status();
  if (now.applied > confStates[0]!.index) confStates.push({ index: now.applied, confState: now.confState });
  // A lone voter leads at once; with peers, elections wait for a (randomized) election timeout.
  if (confState.voters.length === 1 && confState.voters[0] === init.memberId) node.campaign();
  setInterval(() => {
    node!.tick();
    membership.onTick();
    rounds.schedule();
  }, init.tickIntervalMs).unref();
  rounds.schedule();
  if (init.peers.length === 0) {
    transportReady = true;
    announceStarted();
    return;
  }
  startTransport().then(() => { transportReady = true; announceStarted(); }, (err: unknown) => {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'raft: cannot listen for peers');
    setImmediate(() => { throw err; });
  });
}

/**
 * The cluster id the backend stored wins over the flags' (a joined member's flags do not give it).
 * A stored id is written once: a new cluster's with its founding members, or the flags' id of a
 * data dir from before ids were stored.
 */
function initIdentity(o: Extract<RaftFromApply, { type: 'opened' }>, bootstrapping: boolean): void {
  if (o.clusterId !== 0n) {
    if (o.clusterId !== init.clusterId && init.clusterId !== 0n) {
      log.warn({ stored: o.clusterId.toString(16), flags: init.clusterId.toString(16) }, 'raft: the data dir belongs to another cluster id than the flags give; using the stored one');
    }
    clusterId = o.clusterId;
    return;
  }
  if (clusterId === 0n) return; // a joiner: adopted from the peers (onClusterIdAdopted)
  const founders = !bootstrapping ? [] : [
    ...init.peers.map((p) => ({ id: p.id, name: p.name, peerURLs: p.urls, clientURLs: [], isLearner: false })),
    { id: init.memberId, name: init.memberName, peerURLs: init.advertisePeerUrls ?? [], clientURLs: [], isLearner: false },
  ];
  toApply.send({ type: 'cluster', clusterId, founders });
}

/** A joiner's transport took the running cluster's id: store it, then main may serve. */
function onClusterIdAdopted(id: NodeId): void {
  assert.ok(clusterId === 0n && id !== 0n, 'a cluster id is adopted once');
  clusterId = id;
  log.info({ clusterId: id.toString(16) }, 'raft: joined cluster');
  toApply.send({ type: 'cluster', clusterId: id, founders: [] });
  announceStarted();
}

function announceStarted(): void {
  if (startedSent || !transportReady || clusterId === 0n) return;
  startedSent = true;
  toMain.send({ type: 'started', memberId: init.memberId, clusterId });
}

/** Listens on --listen-peer-urls and connects to every other member of the configuration. */
async function startTransport(): Promise<void> {
  assert.ok(init.listenPeerUrls.length > 0, 'a member with peers needs --listen-peer-urls');
  assert.ok(init.peers.every((p) => p.id !== init.memberId), 'a member is not its own peer');
  const t = new PeerTransport({
    memberId: init.memberId,
    clusterId,
    clusterToken: init.clusterToken,
    listenUrls: init.listenPeerUrls,
    logger: log,
    rng: new SeededRng(init.seed ^ 0x5bd1e995),
  });
  t.onMessage(onPeerMessage);
  t.onClusterIdAdopted(onClusterIdAdopted);
  t.onUnreachable((id) => {
    node?.reportUnreachable(id);
    if (forwardedTo.delete(id)) toMain.send({ type: 'peerUnreachable', peer: id });
    rounds.schedule();
  });
  t.onForward((from, response, items) => {
    if (!stopping) toMain.send({ type: 'forwarded', from, response, items });
  });
  t.onSnapshotStatus((id, ok) => {
    log.info({ peer: id.toString(16), ok }, 'raft: snapshot sent to peer');
    node?.reportSnapshot(id, ok);
    rounds.schedule();
  });
  await t.listen();
  for (const p of init.peers) t.addPeer(p.id, p.urls);
  transport = t;
  membership.syncPeers();
}

/** A peer's message: the core judges it; one it refuses is dropped, the member carries on. */
function onPeerMessage(m: Message): void {
  if (!node || stopping) return;
  try {
    node.step(m);
  } catch (err) {
    if (!(err instanceof RaftError)) throw err;
    log.debug({ from: m.from.toString(16), type: m.type, code: err.code }, 'raft: peer message refused');
  }
  rounds.schedule();
}

/**
 * A brand-new member writes its initial configuration (a snapshot at index 0 naming the voters)
 * to the WAL before anything else, so that a restart finds the same configuration.
 */
function bootstrap(s: MemoryStorage): void {
  RawNode.bootstrap(s, init.initialVoters);
  writeSeq += 1;
  inflight.push({ seq: writeSeq, entries: [], after: [] });
  sendToWal({ type: 'append', seq: writeSeq, entries: [], snapshot: s.snapshot() });
}

function sendToWal(msg: WalIn): void {
  if (walHeld === undefined) {
    toWal.send(msg);
    return;
  }
  assert.ok(walHeld.length < WAL_HELD_WRITES_MAX, 'too many WAL writes held behind a snapshot install');
  walHeld.push(msg);
}

function processReady(): void {
  if (!node) return;
  while (node.hasReady()) {
    const rd = node.ready();
    handleSoftState(rd);
    sendMessages(rd.messages.filter((m) => !m.afterPersist));
    if (rd.snapshot) installSnapshot(rd.snapshot);
    persist(rd);
    handleCommitted(rd.committedEntries);
    for (const rs of rd.readStates) serveReads(rs.requestCtx, rs.index);
    node.advance(rd);
  }
}

function handleSoftState(rd: Ready): void {
  if (rd.hardState) term = rd.hardState.term;
  if (!rd.softState) return;
  if (rd.softState.lead !== lead) log.info({ lead: rd.softState.lead.toString(16), term, state: rd.softState.raftState }, 'raft: leader changed');
  lead = rd.softState.lead;
  toMain.send({ type: 'soft', soft: rd.softState, term });
  if (lead === NONE) failAllReads('NoLeader');
  // Sent before this ready's committed entries: mvcc-apply promotes its lessor when it applies
  // an entry of this term (the new leader's empty entry), and demotes at once.
  const leading = rd.softState.raftState === 'Leader';
  if (leading !== leaderToldApply) {
    leaderToldApply = leading;
    toApply.send({ type: 'leadership', leader: leading, term });
  }
}

function persist(rd: Ready): void {
  if (rd.entries.length === 0 && !rd.hardState && !rd.snapshot) {
    // Acks for state that an earlier, still in-flight write makes durable wait for that write;
    // with nothing in flight, that state is durable already.
    const after = rd.messages.filter((m) => m.afterPersist);
    const last = inflight[inflight.length - 1];
    if (last) last.after.push(...after);
    else sendMessages(after);
    return;
  }
  writeSeq += 1;
  const w: InflightWrite = { seq: writeSeq, entries: rd.entries, after: rd.messages.filter((m) => m.afterPersist) };
  // The log keeps only the snapshot's metadata: its data went to the store (installSnapshot).
  const snapshot = rd.snapshot ? { metadata: rd.snapshot.metadata, data: EMPTY_SNAPSHOT_DATA } : undefined;
  if (rd.hardState) w.hardState = rd.hardState;
  if (snapshot) w.snapshot = snapshot;
  inflight.push(w);
  const msg: WalIn = { type: 'append', seq: w.seq, entries: rd.entries };
  if (rd.hardState) msg.hardState = rd.hardState;
  if (snapshot) msg.snapshot = snapshot;
  sendToWal(msg);
}

/**
 * A snapshot from the leader: mvcc-apply replaces its store with the data; WAL writes (this
 * ready's, with the snapshot marker, and later ones) wait until that is durable.
 */
function installSnapshot(snap: Snapshot): void {
  const { index, term, confState } = snap.metadata;
  assert.ok(snap.data.byteLength > 0, `snapshot at ${index} from the leader has no data`);
  log.info({ index, term, bytes: snap.data.byteLength }, 'raft: installing a snapshot from the leader');
  walHeld ??= [];
  restoresPending += 1;
  confStates = [{ index, confState }];
  toApply.send({ type: 'restore', index, data: snap.data });
}

function onRestored(index: number): void {
  assert.ok(walHeld !== undefined && restoresPending > 0 && node, 'restored without a snapshot being installed');
  restoresPending -= 1;
  node.onApplied(index);
  log.info({ index, heldWrites: walHeld.length }, 'raft: snapshot installed in the store');
  if (restoresPending === 0) {
    const held = walHeld;
    walHeld = undefined;
    for (const m of held) toWal.send(m);
  }
  rounds.schedule();
}

/** mvcc-apply is durable up to `index`: snapshot the log there and compact it. */
function onDurable(index: number): void {
  assert.ok(storage && node);
  const snapIndex = storage.snapshot().metadata.index;
  if (index <= snapIndex || walHeld !== undefined) return;
  assert.ok(index <= storage.lastIndex(), `durable ${index} beyond the stable log ${storage.lastIndex()}`);
  const confState = confStateAt(index);
  const snap = storage.createSnapshot(index, confState, EMPTY_SNAPSHOT_DATA);
  const compactTo = index - init.snapshotCatchUpEntries;
  if (compactTo > storage.firstIndex() - 1) storage.compact(compactTo);
  const releaseTo = Math.max(0, compactTo);
  sendToWal({ type: 'snapshot', metadata: snap.metadata, releaseTo });
  log.info({ index, term: snap.metadata.term, firstIndex: storage.firstIndex() }, 'raft: snapshot taken, log compacted');
}

function confStateAt(index: number): ConfState {
  let at = 0;
  while (at + 1 < confStates.length && confStates[at + 1]!.index <= index) at += 1;
  const found = confStates[at];
  assert.ok(found && found.index <= index, `no configuration known at ${index}`);
  confStates = confStates.slice(at); // older ones are below every future snapshot
  return found.confState;
}

function onPersisted(p: Extract<RaftFromWal, { type: 'persisted' }>): void {
  assert.ok(node && storage);
  let after: Message[] = [];
  let raftSnapshot = false;
  while (inflight.length > 0 && inflight[0]!.seq <= p.seq) {
    const w = inflight.shift()!;
    if (w.snapshot) {
      storage.applySnapshot(w.snapshot);
      raftSnapshot = true;
    }
    if (w.entries.length > 0) storage.append(w.entries);
    if (w.hardState) storage.setHardState(w.hardState);
    after = after.concat(w.after);
  }
  assert.ok(inflight.length === 0 || inflight[0]!.seq > p.seq, 'wal answered out of order');
  sendMessages(after);
  node.onPersisted(p.snapshotIndex === undefined || !raftSnapshot
    ? { index: p.index, term: p.term }
    : { index: p.index, term: p.term, snapshotIndex: p.snapshotIndex });
  rounds.schedule();
}

function handleCommitted(entries: Entry[]): void {
  if (entries.length === 0) return;
  for (const e of entries) {
    if (e.type !== EntryType.ConfChange) continue;
    const cc = decodeConfChange(e.data);
    const confState = node!.applyConfChange(cc);
    confStates.push({ index: e.index, confState });
    membership.onApplied(cc);
  }
  toApply.send({ type: 'apply', entries, term });
}

function sendMessages(msgs: Message[]): void {
  if (msgs.length === 0) return;
  const now: Message[] = [];
  for (const m of msgs) {
    assert.notEqual(m.to, init.memberId, 'raft handed out a message to itself');
    if (m.type === 'MsgSnap') requestSnapshotDump(m);
    else now.push(m);
  }
  if (transport) transport.send(now);
  else if (now.length > 0) log.debug({ to: String(now[0]!.to), type: now[0]!.type }, 'raft: no transport yet, message dropped');
}

/** A MsgSnap leaves with a dump of the store as its data (the log's snapshot has none). */
function requestSnapshotDump(m: Message): void {
  assert.ok(m.snapshot, 'MsgSnap without a snapshot');
  if (snapshotDumps.size >= SNAPSHOT_DUMPS_PENDING_MAX) {
    node!.reportSnapshot(m.to, false);
    rounds.schedule();
    return;
  }
  dumpSeq += 1;
  snapshotDumps.set(dumpSeq, m);
  log.info({ to: m.to.toString(16), index: m.snapshot.metadata.index }, 'raft: follower needs a snapshot; dumping the store');
  toApply.send({ type: 'snapshotData', seq: dumpSeq });
}

function onSnapshotDump(d: Extract<RaftFromApply, { type: 'snapshotData' }>): void {
  const m = snapshotDumps.get(d.seq);
  assert.ok(m && m.snapshot, `a store dump nobody asked for (${d.seq})`);
  snapshotDumps.delete(d.seq);
  if (d.data === undefined || !transport) {
    log.warn({ to: m.to.toString(16), error: d.error }, 'raft: cannot send a snapshot');
    node?.reportSnapshot(m.to, false);
    rounds.schedule();
    return;
  }
  assert.ok(d.index >= m.snapshot.metadata.index, 'a store dump older than the snapshot it serves');
  transport.send([{ ...m, snapshot: { metadata: m.snapshot.metadata, data: d.data } }]);
}

function propose(items: Extract<RaftIn, { type: 'propose' }>['items']): void {
  const dropped: RequestId[] = [];
  for (const it of items) {
    if (!node || stopping) { dropped.push(it.id); continue; }
    try {
      node.propose(it.data);
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      dropped.push(it.id);
    }
  }
  if (dropped.length > 0) toMain.send({ type: 'dropped', ids: dropped, error: { ...errorOf(stopping ? 'Stopped' : 'NoLeader') } });
  rounds.schedule();
}

function read(items: ReadItem[]): void {
  if (!node || lead === NONE || stopping || pendingReads.size >= PENDING_READ_BATCHES_MAX) {
    const name = stopping ? 'Stopped' : pendingReads.size >= PENDING_READ_BATCHES_MAX ? 'TooManyRequests' : 'NoLeader';
    toMain.send({ type: 'dropped', ids: items.map((i) => i.id), error: errorOf(name) });
    return;
  }
  readCtxSeq += 1;
  const ctx = new Uint8Array(8);
  new DataView(ctx.buffer).setBigUint64(0, BigInt(readCtxSeq));
  pendingReads.set(ctxKey(ctx), items);
  node.readIndex(ctx);
  rounds.schedule();
}

function serveReads(ctx: Uint8Array, index: number): void {
  const key = ctxKey(ctx);
  const items = pendingReads.get(key);
  if (!items) return; // a duplicate or stale ReadState (e.g. from before a restart)
  pendingReads.delete(key);
  toApply.send({ type: 'read', items, index, term });
}

function failAllReads(name: 'NoLeader' | 'Stopped'): void {
  if (pendingReads.size === 0) return;
  const ids = [...pendingReads.values()].flat().map((i) => i.id);
  pendingReads.clear();
  toMain.send({ type: 'dropped', ids, error: errorOf(name) });
}

function ctxKey(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('hex');
}

/** Main's forward batch for a peer, in frames; requests that cannot leave now are handed back. */
function forwardToPeer(msg: Extract<RaftIn, { type: 'forward' }>): void {
  assert.ok(msg.items.length > 0 && msg.to !== init.memberId, 'forward batch to nobody');
  const failed: bigint[] = [];
  for (const group of splitForwardItems(msg.items)) {
    const sent = transport !== undefined && !stopping && transport.sendForward(msg.to, msg.response, group);
    if (!sent && !msg.response) for (const it of group) failed.push(it.id);
  }
  if (!msg.response && failed.length < msg.items.length) forwardedTo.add(msg.to);
  // A response that cannot leave is dropped: its requester's deadline (or connection loss) covers it.
  if (failed.length > 0) toMain.send({ type: 'forwardFailed', to: msg.to, ids: failed });
}

function errorOf(name: keyof typeof ERRORS): { grpc: (typeof ERRORS)[typeof name]['grpc']; message: string } {
  return { grpc: ERRORS[name].grpc, message: ERRORS[name].message };
}

receive<RaftFromWal>(walPort, (msg) => {
  switch (msg.type) {
    case 'loaded':
      loaded = msg;
      if (opened) start();
      return;
    case 'persisted':
      onPersisted(msg);
      return;
    default:
      assertNever(msg);
  }
});

receive<RaftFromApply>(applyPort, (msg) => {
  switch (msg.type) {
    case 'opened':
      opened = msg;
      if (loaded) start();
      return;
    case 'applied':
      node?.onApplied(msg.index);
      rounds.schedule();
      return;
    case 'durable':
      onDurable(msg.index);
      return;
    case 'snapshotData':
      onSnapshotDump(msg);
      return;
    case 'restored':
      membership.seed(msg.members);
      onRestored(msg.index);
      return;
    case 'propose': // the leader's lease revokes and checkpoints
      propose(msg.items);
      return;
    default:
      assertNever(msg);
  }
});

receive<RaftIn>(mainPort(), (msg) => {
  switch (msg.type) {
    case 'propose':
      propose(msg.items);
      return;
    case 'read':
      read(msg.items);
      return;
    case 'status': {
      const st = node?.status();
      toMain.send({
        type: 'status',
        id: msg.id,
        status: {
          memberId: init.memberId,
          leader: lead,
          term,
          commit: st?.hardState.commit ?? 0,
          lastIndex: storage?.lastIndex() ?? 0,
          applied: st?.applied ?? 0,
          soft: st?.softState ?? { lead: NONE, raftState: 'Follower' },
        },
      });
      return;
    }
    case 'blockPeers':
      log.warn({ on: msg.on }, 'raft: failpoint: peer traffic ' + (msg.on ? 'blocked' : 'unblocked'));
      transport?.setBlocked(msg.on);
      return;
    case 'forward':
      forwardToPeer(msg);
      return;
    case 'members':
    case 'memberChange':
    case 'transferLeader':
      membership.onRequest(msg);
      rounds.schedule();
      return;
    case 'stop':
      stopping = true;
      failAllReads('Stopped');
      void transport?.close();
      stopProfile();
      toMain.send({ type: 'stopped' });
      return;
    default:
      assertNever(msg);
  }
});

toWal.send({ type: 'load' });
