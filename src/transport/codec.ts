// The peer wire codec: pure functions from raft messages and transport control records to
// length-prefixed, CRC-checked binary frames, and back. No I/O; the transport (transport.ts)
// owns the sockets. Nothing read from a peer is trusted: every length, count and enum is checked
// against what is left of the frame and against named bounds before anything is allocated, and
// any violation throws FrameError (the transport logs it and closes that one connection).
//
// Frame layout (integers little endian):
//
//   offset  size  field
//   0       4     payloadBytes (u32), at most FRAME_PAYLOAD_MAX_BYTES
//   4       1     frame type (FrameType; 0 is never valid)
//   5       4     crc (u32) = crc32 over bytes [0, 5) then over the payload
//   9       n     payload
//
// The CRC covers the length and type too, so a corrupted length is caught by the CRC unless it
// exceeds the bound first (then it is caught by the bound, before any buffering).
//
// Payloads:
//   Hello / HelloAck  u32 magic "tetp", u16 version, u16 reserved, u64 clusterId, u64 fromId,
//                     u64 toId, 32-byte sha256 of the cluster token (may grow in later versions)
//   Refuse            utf-8 reason (at most REFUSE_REASON_MAX_BYTES)
//   Message           message body (below), snapshot data inline
//   SnapBegin         u32 snapId, u64 totalBytes, u32 crc32 of the whole data, message body
//                     whose snapshot data is empty (the data follows in SnapChunk frames)
//   SnapChunk         u32 snapId, u64 offset, data
//   SnapAck           u32 snapId, u8 ok
//   Ping              empty (keeps an idle connection observably alive)
//   ForwardRequest    u32 itemCount (1..FORWARD_ITEMS_PER_FRAME_MAX), then per item: u64 requestId,
//   ForwardResponse   u32 bodyBytes (at most FORWARD_BODY_MAX_BYTES) + body. The body is opaque
//                     here (src/server/peer-forwarder.ts gives it meaning); a response answers the
//                     request of the same id sent the other way on the same peer pair.
//
// Message body: u8 type (etcd's raftpb.MessageType number), u8 flags (bit 0 reject, bit 1
// snapshot present), u64 to, u64 from, u64 term, logTerm, index, commit, rejectHint,
// u32 contextBytes + context, u32 entryCount + entries (u64 term, u64 index, u8 type,
// u32 dataBytes + data), then if bit 1: u64 index, u64 term, u32 voterCount + u64 ids,
// u32 learnerCount + u64 ids, u32 dataBytes + data. `afterPersist` is host-only and is not sent:
// a decoded message always has afterPersist = false.
//
// Worked example: a MsgHeartbeat (no context, no entries) has a 66-byte body, so its frame is
// 9 + 66 = 75 bytes; a MsgApp with 100 entries of 128 bytes has 66 + 100 * (21 + 128) = 14966.
//
// Decoded byte fields (entry data, context, snapshot data) never alias the socket's buffers (a
// view would pin them, and posting it to another thread would clone the whole buffer). A message
// body is copied once into its own ArrayBuffer and its byte fields are views of that copy: one
// allocation per message instead of one per entry, and the entries of one message (at most a
// frame) share it.

import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import type { ConfState, Entry, Message, MessageType, NodeId, Snapshot } from '../raft/types.js';

export const FRAME_HEADER_BYTES = 9;
/** Largest frame payload either side sends or accepts. A MsgApp holds maxSizePerMsg (1 MiB) of
 * entries, but always at least one entry, and one entry may be as large as a request (etcd caps
 * requests at 1.5 MiB by default; operators may raise it). */
export const FRAME_PAYLOAD_MAX_BYTES = 64 * 1024 * 1024;
export const REFUSE_REASON_MAX_BYTES = 1024;
/** Bound on voters + learners in one snapshot's ConfState (clusters are a handful of members). */
export const CONF_STATE_MEMBERS_MAX = 4096;
export const PROTOCOL_VERSION = 1;
export const HELLO_MAGIC = 0x70746574; // "tetp" read as u32 LE
export const TOKEN_HASH_BYTES = 32;
const HELLO_BYTES = 4 + 2 + 2 + 8 * 3 + TOKEN_HASH_BYTES;
const MESSAGE_FIXED_BYTES = 2 + 8 * 2 + 8 * 5 + 4 + 4;
const ENTRY_FIXED_BYTES = 8 + 8 + 1 + 4;
const SNAPSHOT_FIXED_BYTES = 8 + 8 + 4 + 4 + 4;
const SNAP_BEGIN_FIXED_BYTES = 4 + 8 + 4;
export const SNAP_CHUNK_FIXED_BYTES = 4 + 8;
const TWO_32 = 2 ** 32;
const U64_MAX = (1n << 64n) - 1n;

export const FrameType = {
  Hello: 1, HelloAck: 2, Refuse: 3, Message: 4, SnapBegin: 5, SnapChunk: 6, SnapAck: 7, Ping: 8,
  ForwardRequest: 9, ForwardResponse: 10,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];
const FRAME_TYPE_MAX = 10;

/** Requests (or responses) in one Forward frame; a larger batch is split over several frames. */
export const FORWARD_ITEMS_PER_FRAME_MAX = 4096;
/** Largest body of one forwarded item (a time-to-live answer listing many keys is the big case). */
export const FORWARD_BODY_MAX_BYTES = 4 * 1024 * 1024;
/** Forward frames are packed up to this payload size (one item of the largest body always fits). */
export const FORWARD_FRAME_PAYLOAD_MAX_BYTES = 8 * 1024 * 1024;
const FORWARD_ITEM_FIXED_BYTES = 8 + 4;

/** Message types by etcd's raftpb.MessageType number (the wire code is the index). */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'MsgHup', 'MsgBeat', 'MsgProp', 'MsgApp', 'MsgAppResp', 'MsgVote', 'MsgVoteResp', 'MsgSnap',
  'MsgHeartbeat', 'MsgHeartbeatResp', 'MsgUnreachable', 'MsgSnapStatus', 'MsgCheckQuorum',
  'MsgTransferLeader', 'MsgTimeoutNow', 'MsgReadIndex', 'MsgReadIndexResp', 'MsgPreVote',
  'MsgPreVoteResp',
];
const MESSAGE_CODES = new Map<MessageType, number>(MESSAGE_TYPES.map((t, i) => [t, i]));

/** A peer sent bytes that do not decode. The connection is closed; the process carries on. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export interface Frame {
  type: FrameType;
  payload: Uint8Array;
}

export interface Hello {
  version: number;
  clusterId: NodeId;
  fromId: NodeId;
  toId: NodeId;
  tokenHash: Uint8Array;
}

export interface SnapBegin {
  snapId: number;
  totalBytes: number;
  dataCrc: number;
  /** The MsgSnap, with snapshot.data empty. */
  message: Message;
}

/** One forwarded request or response: the requester's id and an opaque, bounded body. */
export interface ForwardItem {
  id: bigint;
  body: Uint8Array;
}

export interface SnapChunk {
  snapId: number;
  offset: number;
  /** A view into the frame's payload (valid until the reader's next push): copy before keeping. */
  data: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Allocates one frame of `payloadBytes` and lets `fill` write the payload at offset 9. */
function frameOf(type: FrameType, payloadBytes: number, fill: (w: Writer) => void): Buffer {
  assert.ok(payloadBytes >= 0 && payloadBytes <= FRAME_PAYLOAD_MAX_BYTES, `frame payload of ${payloadBytes} bytes exceeds the bound`);
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
  buf.writeUInt32LE(payloadBytes, 0);
  buf.writeUInt8(type, 4);
  const w = new Writer(buf, FRAME_HEADER_BYTES);
  fill(w);
  assert.equal(w.off, buf.length, 'frame payload size computed wrongly');
  const payload = buf.subarray(FRAME_HEADER_BYTES);
  buf.writeUInt32LE(crc32(payload, crc32(buf.subarray(0, 5))), 5);
  return buf;
}

class Writer {
  constructor(readonly buf: Buffer, public off: number) {}
  u8(v: number): void { this.off = this.buf.writeUInt8(v, this.off); }
  u16(v: number): void { this.off = this.buf.writeUInt16LE(v, this.off); }
  u32(v: number): void { this.off = this.buf.writeUInt32LE(v, this.off); }
  /** A non-negative safe integer as u64 (two u32 halves). */
  u64(v: number): void {
    assert.ok(Number.isSafeInteger(v) && v >= 0, `cannot encode ${v} as u64`);
    this.u32(v % TWO_32);
    this.u32(Math.floor(v / TWO_32));
  }
  id(v: bigint): void {
    assert.ok(v >= 0n && v <= U64_MAX, `member id ${v} out of u64 range`);
    this.off = this.buf.writeBigUInt64LE(v, this.off);
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.off);
    this.off += b.byteLength;
  }
  lenBytes(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.bytes(b);
  }
}

/** Encoded size of a message body; `withSnapData` false leaves snapshot data out (SnapBegin). */
export function messageBodyBytes(m: Message, withSnapData = true): number {
  let n = MESSAGE_FIXED_BYTES + m.context.byteLength;
  for (const e of m.entries) n += ENTRY_FIXED_BYTES + e.data.byteLength;
  if (m.snapshot) {
    const cs = m.snapshot.metadata.confState;
    n += SNAPSHOT_FIXED_BYTES + 8 * (cs.voters.length + cs.learners.length);
    if (withSnapData) n += m.snapshot.data.byteLength;
  }
  return n;
}

function writeMessage(w: Writer, m: Message, withSnapData: boolean): void {
  const code = MESSAGE_CODES.get(m.type);
  assert.ok(code !== undefined, `unknown message type ${m.type}`);
  w.u8(code);
  w.u8((m.reject ? 1 : 0) | (m.snapshot ? 2 : 0));
  w.id(m.to);
  w.id(m.from);
  for (const v of [m.term, m.logTerm, m.index, m.commit, m.rejectHint]) w.u64(v);
  w.lenBytes(m.context);
  w.u32(m.entries.length);
  for (const e of m.entries) {
    w.u64(e.term);
    w.u64(e.index);
    w.u8(e.type);
    w.lenBytes(e.data);
  }
  if (!m.snapshot) return;
  const md = m.snapshot.metadata;
  w.u64(md.index);
  w.u64(md.term);
  for (const ids of [md.confState.voters, md.confState.learners]) {
    w.u32(ids.length);
    for (const id of ids) w.id(id);
  }
  w.lenBytes(withSnapData ? m.snapshot.data : new Uint8Array(0));
}

/** Size of the Message frame for `m` (header included); lets the sender check bounds first. */
export function messageFrameBytes(m: Message): number {
  return FRAME_HEADER_BYTES + messageBodyBytes(m, true);
}

export function encodeMessageFrame(m: Message): Buffer {
  return frameOf(FrameType.Message, messageBodyBytes(m, true), (w) => writeMessage(w, m, true));
}

export function encodeSnapBeginFrame(snapId: number, m: Message): Buffer {
  assert.ok(m.type === 'MsgSnap' && m.snapshot, 'SnapBegin carries a MsgSnap with a snapshot');
  const data = m.snapshot.data;
  const body = SNAP_BEGIN_FIXED_BYTES + messageBodyBytes(m, false);
  return frameOf(FrameType.SnapBegin, body, (w) => {
    w.u32(snapId);
    w.u64(data.byteLength);
    w.u32(crc32(data));
    writeMessage(w, m, false);
  });
}

export function encodeSnapChunkFrame(snapId: number, offset: number, data: Uint8Array): Buffer {
  assert.ok(data.byteLength > 0, 'an empty snapshot chunk is never sent');
  return frameOf(FrameType.SnapChunk, SNAP_CHUNK_FIXED_BYTES + data.byteLength, (w) => {
    w.u32(snapId);
    w.u64(offset);
    w.bytes(data);
  });
}

export function encodeSnapAckFrame(snapId: number, ok: boolean): Buffer {
  return frameOf(FrameType.SnapAck, 5, (w) => {
    w.u32(snapId);
    w.u8(ok ? 1 : 0);
  });
}

export function encodeHelloFrame(type: typeof FrameType.Hello | typeof FrameType.HelloAck, h: Hello): Buffer {
  assert.equal(h.tokenHash.byteLength, TOKEN_HASH_BYTES, 'token hash must be a sha256 digest');
  return frameOf(type, HELLO_BYTES, (w) => {
    w.u32(HELLO_MAGIC);
    w.u16(h.version);
    w.u16(0);
    w.id(h.clusterId);
    w.id(h.fromId);
    w.id(h.toId);
    w.bytes(h.tokenHash);
  });
}

export function encodeRefuseFrame(reason: string): Buffer {
  let bytes = Buffer.from(reason, 'utf8');
  if (bytes.length > REFUSE_REASON_MAX_BYTES) bytes = bytes.subarray(0, REFUSE_REASON_MAX_BYTES);
  return frameOf(FrameType.Refuse, bytes.length, (w) => w.bytes(bytes));
}

export function encodePingFrame(): Buffer {
  return frameOf(FrameType.Ping, 0, () => undefined);
}

/** Payload bytes of a Forward frame carrying `items`. */
export function forwardPayloadBytes(items: readonly ForwardItem[]): number {
  let n = 4;
  for (const it of items) n += FORWARD_ITEM_FIXED_BYTES + it.body.byteLength;
  return n;
}

/**
 * Packs items, in order, into as few groups as the bounds allow: at most
 * FORWARD_ITEMS_PER_FRAME_MAX items and FORWARD_FRAME_PAYLOAD_MAX_BYTES of payload per group.
 * Every body must be within FORWARD_BODY_MAX_BYTES (the caller checks; asserted here).
 */
export function splitForwardItems(items: readonly ForwardItem[]): ForwardItem[][] {
  const groups: ForwardItem[][] = [];
  let group: ForwardItem[] = [];
  let bytes = 4;
  for (const it of items) {
    assert.ok(it.body.byteLength <= FORWARD_BODY_MAX_BYTES, `forward body of ${it.body.byteLength} bytes exceeds the bound`);
    const itemBytes = FORWARD_ITEM_FIXED_BYTES + it.body.byteLength;
    if (group.length === FORWARD_ITEMS_PER_FRAME_MAX || (group.length > 0 && bytes + itemBytes > FORWARD_FRAME_PAYLOAD_MAX_BYTES)) {
      groups.push(group);
      group = [];
      bytes = 4;
    }
    group.push(it);
    bytes += itemBytes;
  }
  if (group.length > 0) groups.push(group);
  assert.equal(groups.reduce((n, g) => n + g.length, 0), items.length, 'split lost items');
  return groups;
}

/** One ForwardRequest or ForwardResponse frame; `items` must fit (see splitForwardItems). */
export function encodeForwardFrame(
  type: typeof FrameType.ForwardRequest | typeof FrameType.ForwardResponse, items: readonly ForwardItem[],
): Buffer {
  assert.ok(items.length > 0 && items.length <= FORWARD_ITEMS_PER_FRAME_MAX, `forward frame of ${items.length} items`);
  const payloadBytes = forwardPayloadBytes(items);
  assert.ok(payloadBytes <= FORWARD_FRAME_PAYLOAD_MAX_BYTES, `forward frame of ${payloadBytes} bytes exceeds the bound`);
  return frameOf(type, payloadBytes, (w) => {
    w.u32(items.length);
    for (const it of items) {
      assert.ok(it.body.byteLength <= FORWARD_BODY_MAX_BYTES, 'forward body exceeds the bound');
      w.id(it.id);
      w.lenBytes(it.body);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Bounds-checked cursor over one payload; every overrun is a FrameError, never a RangeError. */
class Reader {
  private off = 0;
  private readonly buf: Buffer;

  /** `ownCopy`: copy the payload once and hand out views of the copy, instead of a copy per field. */
  constructor(payload: Uint8Array, private readonly what: string, private readonly ownCopy = false) {
    const src = ownCopy ? new Uint8Array(payload) : payload;
    this.buf = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  }

  get left(): number { return this.buf.length - this.off; }

  need(n: number): void {
    if (n > this.left) throw new FrameError(`${this.what}: truncated (need ${n} bytes, ${this.left} left)`);
  }
  u8(): number { this.need(1); return this.buf.readUInt8(this.off++); }
  u16(): number { this.need(2); const v = this.buf.readUInt16LE(this.off); this.off += 2; return v; }
  u32(): number { this.need(4); const v = this.buf.readUInt32LE(this.off); this.off += 4; return v; }
  u64(): number {
    const lo = this.u32();
    const hi = this.u32();
    if (hi >= 2 ** 21) throw new FrameError(`${this.what}: integer above 2^53`);
    return hi * TWO_32 + lo;
  }
  id(): bigint { this.need(8); const v = this.buf.readBigUInt64LE(this.off); this.off += 8; return v; }
  /** The next n bytes: a view of this reader's own copy, or else a fresh copy. */
  bytes(n: number): Uint8Array {
    this.need(n);
    const start = this.buf.byteOffset + this.off;
    const out = this.ownCopy ? new Uint8Array(this.buf.buffer, start, n) : new Uint8Array(this.buf.buffer.slice(start, start + n));
    this.off += n;
    return out;
  }
  lenBytes(): Uint8Array { return this.bytes(this.u32()); }
  /** A count of items of at least `itemBytes` each: checked against what is left before use. */
  count(itemBytes: number, max: number): number {
    const n = this.u32();
    if (n > max || n * itemBytes > this.left) throw new FrameError(`${this.what}: count ${n} does not fit the frame`);
    return n;
  }
  end(): void {
    if (this.left !== 0) throw new FrameError(`${this.what}: ${this.left} trailing bytes`);
  }
}

function readEntry(r: Reader): Entry {
  const term = r.u64();
  const index = r.u64();
  const type = r.u8();
  if (type !== 0 && type !== 1) throw new FrameError(`message: unknown entry type ${type}`);
  return { term, index, type, data: r.lenBytes() };
}

function readIds(r: Reader): NodeId[] {
  const n = r.count(8, CONF_STATE_MEMBERS_MAX);
  const ids: NodeId[] = [];
  for (let i = 0; i < n; i++) ids.push(r.id());
  return ids;
}

function readSnapshot(r: Reader): Snapshot {
  const index = r.u64();
  const term = r.u64();
  const confState: ConfState = { voters: readIds(r), learners: readIds(r) };
  return { metadata: { index, term, confState }, data: r.lenBytes() };
}

function readMessage(r: Reader): Message {
  const code = r.u8();
  const type = MESSAGE_TYPES[code];
  if (type === undefined) throw new FrameError(`message: unknown message type ${code}`);
  const flags = r.u8();
  if ((flags & ~3) !== 0) throw new FrameError(`message: unknown flags ${flags}`);
  const to = r.id();
  const from = r.id();
  const [term, logTerm, index, commit, rejectHint] = [r.u64(), r.u64(), r.u64(), r.u64(), r.u64()];
  const context = r.lenBytes();
  const entryCount = r.count(ENTRY_FIXED_BYTES, Number.MAX_SAFE_INTEGER);
  const entries: Entry[] = [];
  for (let i = 0; i < entryCount; i++) entries.push(readEntry(r));
  const m: Message = {
    type, to, from, term, logTerm, index, entries, commit,
    reject: (flags & 1) !== 0, rejectHint, context, afterPersist: false,
  };
  if ((flags & 2) !== 0) m.snapshot = readSnapshot(r);
  return m;
}

export function decodeMessage(payload: Uint8Array): Message {
  const r = new Reader(payload, 'message', true);
  const m = readMessage(r);
  r.end();
  return m;
}

export function decodeSnapBegin(payload: Uint8Array): SnapBegin {
  const r = new Reader(payload, 'snapshot begin');
  const snapId = r.u32();
  const totalBytes = r.u64();
  const dataCrc = r.u32();
  const message = readMessage(r);
  r.end();
  if (message.type !== 'MsgSnap' || !message.snapshot || message.snapshot.data.byteLength !== 0) {
    throw new FrameError('snapshot begin: not a MsgSnap with its data left out');
  }
  return { snapId, totalBytes, dataCrc, message };
}

export function decodeSnapChunk(payload: Uint8Array): SnapChunk {
  const r = new Reader(payload, 'snapshot chunk');
  const snapId = r.u32();
  const offset = r.u64();
  if (r.left === 0) throw new FrameError('snapshot chunk: empty');
  // A view, not a copy: the receiver copies it straight into the snapshot's buffer.
  const start = payload.byteOffset + SNAP_CHUNK_FIXED_BYTES;
  return { snapId, offset, data: new Uint8Array(payload.buffer, start, payload.byteLength - SNAP_CHUNK_FIXED_BYTES) };
}

export function decodeSnapAck(payload: Uint8Array): { snapId: number; ok: boolean } {
  const r = new Reader(payload, 'snapshot ack');
  const snapId = r.u32();
  const ok = r.u8();
  r.end();
  if (ok > 1) throw new FrameError(`snapshot ack: bad ok byte ${ok}`);
  return { snapId, ok: ok === 1 };
}

/**
 * The items of a ForwardRequest or ForwardResponse payload. Bodies are views of ONE copy of the
 * payload (posting them to another thread in one message clones that copy once).
 */
export function decodeForward(payload: Uint8Array): ForwardItem[] {
  if (payload.byteLength > FORWARD_FRAME_PAYLOAD_MAX_BYTES) throw new FrameError(`forward: ${payload.byteLength}-byte frame exceeds the bound`);
  const r = new Reader(payload, 'forward', true);
  const n = r.count(FORWARD_ITEM_FIXED_BYTES, FORWARD_ITEMS_PER_FRAME_MAX);
  if (n === 0) throw new FrameError('forward: no items');
  const items: ForwardItem[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.id();
    const bodyBytes = r.u32();
    if (bodyBytes > FORWARD_BODY_MAX_BYTES) throw new FrameError(`forward: ${bodyBytes}-byte body exceeds the bound`);
    items.push({ id, body: r.bytes(bodyBytes) });
  }
  r.end();
  return items;
}

export function decodeHello(payload: Uint8Array): Hello {
  const r = new Reader(payload, 'handshake');
  if (r.u32() !== HELLO_MAGIC) throw new FrameError('handshake: bad magic (not a tetcd peer)');
  const version = r.u16();
  r.u16();
  const clusterId = r.id();
  const fromId = r.id();
  const toId = r.id();
  // Later versions may append fields; the version check in the transport decides.
  return { version, clusterId, fromId, toId, tokenHash: r.bytes(TOKEN_HASH_BYTES) };
}

export function decodeRefuse(payload: Uint8Array): string {
  if (payload.byteLength > REFUSE_REASON_MAX_BYTES) throw new FrameError('refuse: reason too long');
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
}

/**
 * Splits a byte stream into checked frames. Buffers at most one frame (header + bound), because
 * a header is checked against `payloadMaxBytes` before its payload is waited for.
 */
export class FrameReader {
  /** Received bytes not yet consumed; chunks[0] starts at headOffset. */
  private readonly chunks: Buffer[] = [];
  private headOffset = 0;
  /** Sum of chunk lengths minus headOffset; invariant: <= FRAME_HEADER_BYTES + payloadMaxBytes + last chunk. */
  private bufferedBytes = 0;

  constructor(private readonly payloadMaxBytes: number = FRAME_PAYLOAD_MAX_BYTES) {
    assert.ok(payloadMaxBytes > 0 && payloadMaxBytes <= FRAME_PAYLOAD_MAX_BYTES);
  }

  /** Adds bytes and returns every frame now complete. Throws FrameError on a bad frame. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
      const header = this.peek(FRAME_HEADER_BYTES);
      const payloadBytes = header.readUInt32LE(0);
      const type = header.readUInt8(4);
      if (type === 0 || type > FRAME_TYPE_MAX) throw new FrameError(`unknown frame type ${type}`);
      if (payloadBytes > this.payloadMaxBytes) {
        throw new FrameError(`frame of ${payloadBytes} bytes exceeds the ${this.payloadMaxBytes}-byte bound`);
      }
      if (this.bufferedBytes < FRAME_HEADER_BYTES + payloadBytes) break;
      const whole = this.take(FRAME_HEADER_BYTES + payloadBytes);
      const payload = whole.subarray(FRAME_HEADER_BYTES);
      const crc = crc32(payload, crc32(whole.subarray(0, 5)));
      if (crc !== whole.readUInt32LE(5)) throw new FrameError(`frame type ${type}: crc mismatch`);
      frames.push({ type: type as FrameType, payload });
    }
    assert.ok(this.bufferedBytes >= 0);
    return frames;
  }

  /** The first n buffered bytes, contiguous (copied only when they span chunks). */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.headOffset >= n) return first.subarray(this.headOffset, this.headOffset + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (let i = 0; filled < n; i++) {
      const c = this.chunks[i]!;
      const from = i === 0 ? this.headOffset : 0;
      filled += c.copy(out, filled, from, Math.min(c.length, from + n - filled));
    }
    return out;
  }

  private take(n: number): Buffer {
    assert.ok(n <= this.bufferedBytes, 'take past buffered bytes');
    const out = this.peek(n);
    let left = n;
    while (left > 0) {
      const avail = this.chunks[0]!.length - this.headOffset;
      if (avail > left) {
        this.headOffset += left;
        left = 0;
      } else {
        left -= avail;
        this.chunks.shift();
        this.headOffset = 0;
      }
    }
    this.bufferedBytes -= n;
    return out;
  }
}
