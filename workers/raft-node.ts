// raft-node actor: hosts the consensus core (src/raft) and does everything the core may not:
// it keeps time (ticks), hands entries to wal-writer and committed entries to mvcc-apply, and
// feeds their acknowledgements back. It follows the pipelined protocol of src/raft/types.ts: a
// ready() is handed out at once, its writes complete later, and afterPersist messages leave only
// when the WAL has made that ready durable.
//
// Batching: every mailbox handler only records work and schedules one processing round per
// macrotask, so a burst of proposals from the gateway becomes one ready(), one WAL append and one
// apply message.

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
import { MemoryStorage } from '../src/raft/storage.js';
import { decodeConfChange } from '../src/raft/confchange.js';
import { EntryType, NONE, RaftError } from '../src/raft/types.js';
import type { Entry, HardState, Message, Ready, Snapshot } from '../src/raft/types.js';

const boot = actorBoot<RaftInit>();
const stopProfile = startCpuProfile(boot.name);
const init = boot.init;
const log = createActorLogger(init.logLevel, boot.name);
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
/** Linearizable reads waiting for leadership confirmation, by readIndex context. */
const pendingReads = new Map<string, ReadItem[]>();
let readCtxSeq = 0;
let stopping = false;

const rounds = new Coalescer(processReady);

function start(): void {
  assert.ok(loaded && opened, 'start() before load and open');
  storage = new MemoryStorage();
  const fresh = loaded.entries.length === 0 && loaded.hardState.term === 0 && !loaded.snapshot;
  if (loaded.snapshot) storage.applySnapshot(loaded.snapshot);
  storage.setHardState(loaded.hardState);
  storage.append(loaded.entries);
  if (fresh) bootstrap(storage);
  node = new RawNode({
    id: init.memberId,
    electionTick: init.electionTick,
    heartbeatTick: init.heartbeatTick,
    storage,
    applied: opened.consistentIndex,
    maxSizePerMsg: MAX_SIZE_PER_MSG_BYTES,
    maxInflightMsgs: MAX_INFLIGHT_MSGS,
    maxUncommittedEntriesSize: 0,
    preVote: true,
    checkQuorum: true,
    seed: init.seed,
  });
  log.info({ entries: loaded.entries.length, applied: opened.consistentIndex, fresh }, 'raft: node started');
  loaded = undefined;
  const { voters } = storage.initialState().confState;
  if (voters.length === 1 && voters[0] === init.memberId) node.campaign();
  setInterval(() => {
    node!.tick();
    rounds.schedule();
  }, init.tickIntervalMs).unref();
  rounds.schedule();
  toMain.send({ type: 'started', memberId: init.memberId });
}

/**
 * A brand-new member writes its initial configuration (a snapshot at index 0 naming the voters)
 * to the WAL before anything else, so that a restart finds the same configuration.
 */
function bootstrap(s: MemoryStorage): void {
  RawNode.bootstrap(s, init.initialVoters);
  writeSeq += 1;
  inflight.push({ seq: writeSeq, entries: [], after: [] });
  toWal.send({ type: 'append', seq: writeSeq, entries: [], snapshot: s.snapshot() });
}

function processReady(): void {
  if (!node) return;
  while (node.hasReady()) {
    const rd = node.ready();
    handleSoftState(rd);
    sendMessages(rd.messages.filter((m) => !m.afterPersist));
    persist(rd);
    handleCommitted(rd.committedEntries);
    for (const rs of rd.readStates) serveReads(rs.requestCtx, rs.index);
    node.advance(rd);
  }
}

function handleSoftState(rd: Ready): void {
  if (rd.hardState) term = rd.hardState.term;
  if (!rd.softState) return;
  if (rd.softState.lead !== lead) log.info({ lead: String(rd.softState.lead), term }, 'raft: leader changed');
  lead = rd.softState.lead;
  toMain.send({ type: 'soft', soft: rd.softState, term });
  if (lead === NONE) failAllReads('NoLeader');
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
  if (rd.hardState) w.hardState = rd.hardState;
  if (rd.snapshot) w.snapshot = rd.snapshot;
  inflight.push(w);
  const msg: WalIn = { type: 'append', seq: w.seq, entries: rd.entries };
  if (rd.hardState) msg.hardState = rd.hardState;
  if (rd.snapshot) msg.snapshot = rd.snapshot;
  toWal.send(msg);
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
    if (e.type === EntryType.ConfChange) node!.applyConfChange(decodeConfChange(e.data));
  }
  toApply.send({ type: 'apply', entries, term });
}

function sendMessages(msgs: Message[]): void {
  // Peer transport arrives with clusters; a single-voter member has no peers to talk to.
  for (const m of msgs) {
    assert.notEqual(m.to, init.memberId, 'raft handed out a message to itself');
    log.debug({ to: String(m.to), type: m.type }, 'raft: no transport for peer message');
  }
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
    case 'stop':
      stopping = true;
      failAllReads('Stopped');
      stopProfile();
      toMain.send({ type: 'stopped' });
      return;
    default:
      assertNever(msg);
  }
});

toWal.send({ type: 'load' });
