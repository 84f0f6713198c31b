// Shared helpers for the transport tests and the throughput script: seeded random raft
// messages, a logger that records lines, transports on 127.0.0.1 random ports, and a bounded
// wait that fails the test (rather than hanging) when a condition never comes true.

import assert from 'node:assert/strict';
import net from 'node:net';
import { MESSAGE_TYPES } from '../../src/transport/codec.js';
import { PeerTransport } from '../../src/transport/transport.js';
import type { PeerTransportOptions, TransportLogger } from '../../src/transport/transport.js';
import { SeededRng } from '../../src/raft/rng.js';
import type { Entry, Message, MessageType, NodeId } from '../../src/raft/types.js';

export function baseMessage(type: MessageType, from: NodeId, to: NodeId, index = 0): Message {
  return {
    type, to, from, term: 1, logTerm: 0, index, entries: [], commit: 0, reject: false, rejectHint: 0,
    context: new Uint8Array(0), afterPersist: false,
  };
}

export function randomBytes(rng: SeededRng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.intBelow(256);
  return b;
}

/** A non-negative safe integer, biased toward small values and the edges. */
function randomInt(rng: SeededRng): number {
  switch (rng.intBelow(4)) {
    case 0: return 0;
    case 1: return rng.intBelow(1000);
    case 2: return Number.MAX_SAFE_INTEGER - rng.intBelow(3);
    default: return rng.intBelow(2 ** 21) * 2 ** 32 + rng.nextU32();
  }
}

function randomId(rng: SeededRng): bigint {
  if (rng.intBelow(5) === 0) return (1n << 64n) - 1n;
  return (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32());
}

export function randomMessage(rng: SeededRng): Message {
  const type = MESSAGE_TYPES[rng.intBelow(MESSAGE_TYPES.length)]!;
  const entries: Entry[] = [];
  for (let i = rng.intBelow(6); i > 0; i--) {
    entries.push({ term: randomInt(rng), index: randomInt(rng), type: rng.intBelow(2) as 0 | 1, data: randomBytes(rng, rng.intBelow(300)) });
  }
  const m: Message = {
    type, to: randomId(rng), from: randomId(rng), term: randomInt(rng), logTerm: randomInt(rng), index: randomInt(rng),
    entries, commit: randomInt(rng), reject: rng.intBelow(2) === 1, rejectHint: randomInt(rng),
    context: randomBytes(rng, rng.intBelow(3) === 0 ? rng.intBelow(40) : 0), afterPersist: false,
  };
  if (rng.intBelow(3) === 0) {
    const ids = (): bigint[] => Array.from({ length: rng.intBelow(6) }, () => randomId(rng));
    m.snapshot = {
      metadata: { index: randomInt(rng), term: randomInt(rng), confState: { voters: ids(), learners: ids() } },
      data: randomBytes(rng, rng.intBelow(2000)),
    };
  }
  return m;
}

export interface LogLine {
  level: string;
  msg: string;
  fields: object;
}

export class RecordingLogger implements TransportLogger {
  readonly lines: LogLine[] = [];
  constructor(private readonly tag: string) {}
  private rec(level: string, fields: object, msg: string): void {
    this.lines.push({ level, msg, fields });
    if (process.env.TRANSPORT_TEST_LOG) console.error(`[${this.tag}] ${level} ${msg} ${JSON.stringify(fields)}`);
  }
  debug(o: object, m: string): void { this.rec('debug', o, m); }
  info(o: object, m: string): void { this.rec('info', o, m); }
  warn(o: object, m: string): void { this.rec('warn', o, m); }
  error(o: object, m: string): void { this.rec('error', o, m); }
  has(level: string, text: string): boolean {
    return this.lines.some((l) => l.level === level && l.msg.includes(text));
  }
}

export const CLUSTER_ID = 0xc1a5e7n;
export const TOKEN = 'test-cluster-token';

export interface Member {
  id: NodeId;
  t: PeerTransport;
  url: string;
  port: number;
  log: RecordingLogger;
  received: Message[];
  unreachable: NodeId[];
  snapStatus: Array<{ id: NodeId; ok: boolean }>;
}

/** A transport listening on 127.0.0.1 (port 0 unless given), recording what it receives. */
export async function startMember(id: NodeId, over: Partial<PeerTransportOptions> = {}, port = 0): Promise<Member> {
  const log = new RecordingLogger(`m${id}`);
  const t = new PeerTransport({
    memberId: id, clusterId: CLUSTER_ID, clusterToken: TOKEN, listenUrls: [`http://127.0.0.1:${port}`],
    logger: log, rng: new SeededRng(Number(id)), backoffInitialMs: 20, backoffMaxMs: 200, ...over,
  });
  const [addr] = await t.listen();
  assert.ok(addr);
  const m: Member = { id, t, url: `http://127.0.0.1:${addr.port}`, port: addr.port, log, received: [], unreachable: [], snapStatus: [] };
  t.onMessage((msg) => m.received.push(msg));
  t.onUnreachable((p) => m.unreachable.push(p));
  t.onSnapshotStatus((p, ok) => m.snapStatus.push({ id: p, ok }));
  return m;
}

/** Makes every member a peer of every other. */
export function mesh(members: Member[]): void {
  for (const a of members) for (const b of members) if (a !== b) a.t.addPeer(b.id, [b.url]);
}

/** Polls `cond` every 5 ms; throws (failing the test) if it is still false after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A loopback port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const addr = s.address();
  assert.ok(addr && typeof addr === 'object');
  await new Promise<void>((r) => s.close(() => r()));
  return addr.port;
}
