// Transcript-test interpreter: a tiny in-process cluster of RawNodes driven by text commands,
// whose output is the exact message transcript. Files in testdata/*.txt hold blocks of
//
//   command arg key=value
//   ----
//   expected output (one or more lines; "ok" when a command prints nothing)
//   <blank line>
//
// Lines starting with '#' between blocks are comments. `REWRITE=1` rewrites the expected output.
//
// The host here persists every Ready at once (storage updated, then advance, then onPersisted)
// and applies committed entries at once, so output is deterministic and compact. Messages are
// queued in a network and only delivered by `deliver-msgs` / `stabilize`.
//
// Commands:
//   add-nodes N [prevote=true] [checkquorum=true] [join=false] [inflight=256] [maxsize=1048576]
//             [maxuncommitted=0] [electiontick=10] [heartbeattick=1]   (initial voters = new ids)
//   campaign ID | propose ID DATA | propose-conf-change ID add|remove|learner|update NODE
//   tick ID [N] | tick-heartbeat ID | tick-election ID
//   process-ready ID... | deliver-msgs [ID...] [drop=ID,...] | stabilize [ID...]
//   isolate ID | recover | read-index ID CTX | transfer-leader FROM TO
//   compact ID INDEX | restart ID | report-unreachable ID PEER | status ID | raft-log ID
//   store-hard-state ID commit=N      (the stored hard state's commit becomes N: a restart then
//                                      sees a WAL whose last hard-state write lagged)
//   process-ready-crash ID            (hands out one Ready, sends what may leave at once, then
//                                      crashes before its write lands and restarts from storage)

import assert from 'node:assert/strict';
import { describeEntry, describeHardState, describeMessage, describeSnapshot } from '../../src/raft/describe.js';
import { decodeConfChange } from '../../src/raft/confchange.js';
import { RawNode } from '../../src/raft/rawnode.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { ConfChangeType, EntryType, RaftError } from '../../src/raft/types.js';
import type { ConfChange, Message, NodeId, RaftConfig, Ready } from '../../src/raft/types.js';

/** Bound on rounds of one `stabilize` (a livelock is a bug, not a long test). */
const STABILIZE_ROUNDS_MAX = 1000;

interface TestNode {
  id: NodeId;
  node: RawNode;
  storage: MemoryStorage;
  cfg: RaftConfig;
}

const enc = new TextEncoder();

export class Interpreter {
  private readonly nodes = new Map<NodeId, TestNode>();
  private queue: Message[] = [];
  private readonly isolated = new Set<NodeId>();
  private out: string[] = [];

  run(cmd: string, args: string[]): string {
    this.out = [];
    const kv = new Map<string, string>();
    const pos: string[] = [];
    for (const a of args) {
      const eq = a.indexOf('=');
      if (eq > 0) kv.set(a.slice(0, eq), a.slice(eq + 1));
      else pos.push(a);
    }
    try {
      this.dispatch(cmd, pos, kv);
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      this.out.push(`error: ${err.code}: ${err.message}`);
    }
    return this.out.length === 0 ? 'ok' : this.out.join('\n');
  }

  private dispatch(cmd: string, pos: string[], kv: Map<string, string>): void {
    const id = (i: number): NodeId => BigInt(pos[i] ?? assert.fail(`${cmd}: missing argument ${i}`));
    switch (cmd) {
      case 'add-nodes': return this.addNodes(Number(pos[0]), kv);
      case 'campaign': return this.get(id(0)).node.campaign();
      case 'propose': return this.get(id(0)).node.propose(enc.encode(pos[1] ?? ''));
      case 'propose-conf-change': return this.get(id(0)).node.proposeConfChange(parseCc(pos[1], id(2)));
      case 'tick': return this.tick(id(0), Number(pos[1] ?? 1));
      case 'tick-heartbeat': return this.tick(id(0), this.get(id(0)).cfg.heartbeatTick);
      case 'tick-election': return this.tick(id(0), this.get(id(0)).cfg.electionTick * 2);
      case 'process-ready': return pos.forEach((_, i) => this.processReady(id(i)));
      case 'deliver-msgs': this.deliver(pos.map((p) => BigInt(p)), parseIds(kv.get('drop'))); return;
      case 'stabilize': return this.stabilize(pos.map((p) => BigInt(p)));
      case 'isolate': this.isolated.add(id(0)); return;
      case 'recover': this.isolated.clear(); return;
      case 'read-index': return this.get(id(0)).node.readIndex(enc.encode(pos[1] ?? ''));
      case 'transfer-leader': return this.get(id(0)).node.transferLeader(id(1));
      case 'compact': return this.compact(id(0), Number(pos[1]));
      case 'restart': return this.restart(id(0));
      case 'report-unreachable': return this.get(id(0)).node.reportUnreachable(id(1));
      case 'status': return this.status(id(0));
      case 'raft-log': return this.raftLog(id(0));
      case 'store-hard-state': return this.storeHardState(id(0), Number(kv.get('commit')));
      case 'process-ready-crash': return this.processReadyCrash(id(0));
      default: assert.fail(`unknown command ${cmd}`);
    }
  }

  private get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    assert.ok(n, `no node ${id}`);
    return n;
  }

  private addNodes(n: number, kv: Map<string, string>): void {
    const first = this.nodes.size + 1;
    const ids = Array.from({ length: n }, (_, i) => BigInt(first + i));
    for (const id of ids) {
      const storage = new MemoryStorage();
      if (kv.get('join') !== 'true') RawNode.bootstrap(storage, ids);
      const cfg: RaftConfig = {
        id, storage, applied: 0,
        electionTick: Number(kv.get('electiontick') ?? 10), heartbeatTick: Number(kv.get('heartbeattick') ?? 1),
        maxSizePerMsg: Number(kv.get('maxsize') ?? 1 << 20), maxInflightMsgs: Number(kv.get('inflight') ?? 256),
        maxUncommittedEntriesSize: Number(kv.get('maxuncommitted') ?? 0),
        preVote: kv.get('prevote') !== 'false', checkQuorum: kv.get('checkquorum') !== 'false',
        seed: Number(id),
      };
      this.nodes.set(id, { id, node: new RawNode(cfg), storage, cfg });
    }
    this.out.push(`added ${ids.join(' ')}`);
  }

  private tick(id: NodeId, n: number): void {
    for (let i = 0; i < n; i++) this.get(id).node.tick();
  }

  /** Hands out one Ready, persists and applies it at once; returns false when there was none. */
  processReady(id: NodeId): boolean {
    const t = this.get(id);
    if (!t.node.hasReady()) return false;
    const rd = t.node.ready();
    this.printReady(id, rd);
    if (rd.snapshot) t.storage.applySnapshot(rd.snapshot);
    t.storage.append(rd.entries);
    if (rd.hardState) t.storage.setHardState(rd.hardState);
    const log = t.node.raft.log;
    const p: { index: number; term: number; snapshotIndex?: number } = { index: log.lastIndex(), term: log.lastTerm() };
    if (rd.snapshot) p.snapshotIndex = rd.snapshot.metadata.index;
    t.node.advance(rd);
    for (const m of rd.messages) this.queue.push(m);
    t.node.onPersisted(p);
    if (rd.snapshot) t.node.onApplied(rd.snapshot.metadata.index);
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ConfChange) t.node.applyConfChange(decodeConfChange(e.data));
    }
    const last = rd.committedEntries[rd.committedEntries.length - 1];
    if (last) t.node.onApplied(last.index);
    return true;
  }

  private printReady(id: NodeId, rd: Ready): void {
    this.out.push(`> ${id} handling Ready`);
    const o = (s: string): void => void this.out.push(`  ${s}`);
    if (rd.softState) o(`Lead:${rd.softState.lead} State:${rd.softState.raftState}`);
    if (rd.hardState) o(`HardState ${describeHardState(rd.hardState)}`);
    if (rd.snapshot) o(`Snapshot ${describeSnapshot(rd.snapshot)}`);
    if (rd.entries.length) o(`Entries: ${rd.entries.map(describeEntry).join(', ')}`);
    if (rd.committedEntries.length) o(`CommittedEntries: ${rd.committedEntries.map(describeEntry).join(', ')}`);
    for (const rs of rd.readStates) o(`ReadState Index:${rs.index} Ctx:${new TextDecoder().decode(rs.requestCtx)}`);
    for (const m of rd.messages) o(describeMessage(m));
  }

  private deliver(to: NodeId[], drop: Set<NodeId>): number {
    const take = (m: Message): boolean => to.length === 0 || to.includes(m.to);
    const now = this.queue.filter(take);
    this.queue = this.queue.filter((m) => !take(m));
    for (const m of now) {
      const cut = this.isolated.has(m.to) || this.isolated.has(m.from) || drop.has(m.to);
      this.out.push(`${cut ? 'dropped' : 'deliver'} ${describeMessage(m)}`);
      if (cut || !this.nodes.has(m.to)) continue;
      try {
        this.get(m.to).node.step(m);
      } catch (err) {
        if (!(err instanceof RaftError)) throw err;
        this.out.push(`  error: ${err.code}`);
      }
      // The sender's host reports the outcome of a snapshot once it is delivered.
      if (m.type === 'MsgSnap') this.nodes.get(m.from)?.node.reportSnapshot(m.to, true);
    }
    return now.length;
  }

  private stabilize(ids: NodeId[]): void {
    const which = ids.length > 0 ? ids : [...this.nodes.keys()];
    for (let round = 0; round < STABILIZE_ROUNDS_MAX; round++) {
      let busy = false;
      for (const id of which) while (this.processReady(id)) busy = true;
      if (this.deliver(which, new Set()) > 0) busy = true;
      if (!busy) return;
    }
    assert.fail('stabilize did not settle');
  }

  private compact(id: NodeId, index: number): void {
    const t = this.get(id);
    const cs = t.node.status().confState;
    t.storage.createSnapshot(index, cs, enc.encode(`snap@${index}`));
    t.storage.compact(index);
    this.out.push(`${id}: log now starts at ${t.storage.firstIndex()}`);
  }

  private restart(id: NodeId): void {
    const t = this.get(id);
    this.queue = this.queue.filter((m) => m.to !== id);
    const cfg = { ...t.cfg, applied: t.node.status().applied };
    t.node = new RawNode(cfg);
    this.out.push(`${id}: restarted ${describeHardState(t.node.status().hardState)}`);
  }

  private storeHardState(id: NodeId, commit: number): void {
    assert.ok(Number.isSafeInteger(commit) && commit >= 0, 'store-hard-state: commit=N required');
    const t = this.get(id);
    const hs = t.storage.initialState().hardState;
    t.storage.setHardState({ ...hs, commit });
    this.out.push(`${id}: stored ${describeHardState({ ...hs, commit })}`);
  }

  /**
   * The pipelined host's worst case: a Ready is handed out, its at-once messages leave, and the
   * node crashes before the write lands, so its afterPersist messages are lost with it.
   */
  private processReadyCrash(id: NodeId): void {
    const t = this.get(id);
    if (!t.node.hasReady()) return;
    const rd = t.node.ready();
    this.printReady(id, rd);
    t.node.advance(rd);
    for (const m of rd.messages) {
      if (m.afterPersist) this.out.push(`lost with the write: ${describeMessage(m)}`);
      else this.queue.push(m);
    }
    this.restart(id);
  }

  private status(id: NodeId): void {
    const st = this.get(id).node.status();
    this.out.push(`${id}: ${st.softState.raftState} Lead:${st.softState.lead} ${describeHardState(st.hardState)} Applied:${st.applied}` +
      ` Voters:[${st.confState.voters.join(' ')}] Learners:[${st.confState.learners.join(' ')}]` +
      (st.leadTransferee !== 0n ? ` Transferee:${st.leadTransferee}` : ''));
    for (const [pid, pr] of st.progress) {
      this.out.push(`  ${pid}: ${pr.state} match=${pr.match} next=${pr.next}${pr.isLearner ? ' learner' : ''}`);
    }
  }

  private raftLog(id: NodeId): void {
    const log = this.get(id).node.raft.log;
    const first = log.firstIndex();
    const last = log.lastIndex();
    if (last < first) this.out.push(`log is empty: first index=${first}, last index=${last}`);
    else for (const e of log.slice(first, last + 1, Number.MAX_SAFE_INTEGER)) this.out.push(describeEntry(e));
  }
}

function parseIds(s: string | undefined): Set<NodeId> {
  return new Set(s === undefined || s === '' ? [] : s.split(',').map((x) => BigInt(x)));
}

function parseCc(kind: string | undefined, nodeId: NodeId): ConfChange {
  const types: Record<string, ConfChange['type']> = {
    add: ConfChangeType.AddNode, remove: ConfChangeType.RemoveNode,
    learner: ConfChangeType.AddLearnerNode, update: ConfChangeType.UpdateNode,
  };
  const type = types[kind ?? ''];
  assert.ok(type !== undefined, `conf change kind must be add|remove|learner|update, got ${kind}`);
  return { type, nodeId, context: new Uint8Array(0) };
}

export interface Block {
  /** Comment and blank lines before the command, verbatim. */
  preamble: string[];
  command: string;
  expected: string;
}

export function parseTranscript(text: string): { blocks: Block[]; trailer: string[] } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let preamble: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      preamble.push(line);
      continue;
    }
    assert.equal(lines[i + 1], '----', `line ${i + 2}: expected ---- after the command "${line}"`);
    const exp: string[] = [];
    let j = i + 2;
    for (; j < lines.length && lines[j] !== ''; j++) exp.push(lines[j]!);
    blocks.push({ preamble, command: line, expected: exp.join('\n') });
    preamble = [];
    i = j; // the blank line ending the block
  }
  return { blocks, trailer: preamble };
}

/** Runs a transcript; returns the actual output blocks and the rewritten file text. */
export function runTranscript(text: string): { blocks: Block[]; actual: string[]; rewritten: string } {
  const { blocks, trailer } = parseTranscript(text);
  const interp = new Interpreter();
  const actual: string[] = [];
  const parts: string[] = [];
  for (const b of blocks) {
    const [cmd, ...args] = b.command.trim().split(/\s+/);
    const got = interp.run(cmd!, args);
    actual.push(got);
    parts.push(...b.preamble.filter((l) => l.trim() !== ''), b.command, '----', got, '');
  }
  while (trailer.length > 0 && trailer[0] === '') trailer.shift();
  parts.push(...trailer);
  return { blocks, actual, rewritten: parts.join('\n').replace(/\n+$/, '\n') };
}
