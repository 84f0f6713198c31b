// The WAL record codec: pure functions from typed records to bytes and back. No I/O.
//
// A segment file is a sequence of records, each 8-byte aligned:
//
//   offset  size  field
//   0       4     crc (u32 LE) = crc32 over bytes [4, recordEnd), seeded with the segment's salt
//   4       4     payloadBytes (u32 LE)
//   8       1     type (1 metadata, 2 entry, 3 hardState, 4 snapshot; 0 is never valid, so zeros
//                 from preallocation never decode as a record)
//   9       3     reserved, zero
//   12      n     payload
//   12+n    0..7  zero padding up to recordEnd = align8(12 + n)
//
// The CRC is per record (not chained across records as etcd does) so that, when a record is bad,
// a reader can still tell whether a valid record follows it: that is how a torn tail (truncate
// it) is told apart from corruption (refuse to start). The seed ("salt") is a random 32-bit
// value drawn when the segment is created and stored in its metadata record (which itself is
// seeded with 0): a stale record from another segment, or a WAL image stored as a user value,
// does not validate in this segment. Payloads (all integers little endian, u64 indexes/terms
// written as two u32 halves and asserted to be safe integers):
//
//   metadata  u32 formatVersion, u32 salt, u64 seq, u64 firstIndex, u64 memberId, u64 clusterId
//   entry     u64 index, u64 term, u8 entryType, data (the rest of the payload)
//   hardState u64 term, u64 vote, u64 commit
//   snapshot  u64 index, u64 term, u32 voterCount, u32 learnerCount, u64 ids...
//
// Worked example: an entry with 3 data bytes has a 17+3 = 20-byte payload, so the record takes
// align8(12 + 20) = 32 bytes; the CRC covers bytes 4..31 (header fields, payload, zero padding).
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import type { ConfState, Entry, HardState, NodeId, SnapshotMetadata } from '../raft/types.js';

export const RECORD_HEADER_BYTES = 12;
export const RECORD_ALIGN_BYTES = 8;
/** Largest payload a record may carry (both on write and on read). etcd caps requests at 1.5 MiB. */
export const RECORD_PAYLOAD_MAX_BYTES = 64 * 1024 * 1024;
export const WAL_FORMAT_VERSION = 1;

export const RecordType = { Metadata: 1, Entry: 2, HardState: 3, Snapshot: 4 } as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

const ENTRY_FIXED_BYTES = 17;
const HARD_STATE_BYTES = 24;
const SNAPSHOT_FIXED_BYTES = 24;
const METADATA_BYTES = 40;
/** Bound on voters + learners in one snapshot record (etcd clusters are a handful of members). */
export const SNAPSHOT_MEMBERS_MAX = 4096;

/** Written at the start of every segment. */
export interface SegmentMetadata {
  formatVersion: number;
  /** CRC seed of every other record in this segment. */
  salt: number;
  /** Segment sequence number; equals the first half of the file name. */
  seq: number;
  /** lastIndex + 1 when the segment was created; equals the second half of the file name. */
  firstIndex: number;
  memberId: bigint;
  clusterId: bigint;
}

export type WalRecord =
  | { type: typeof RecordType.Metadata; metadata: SegmentMetadata }
  | { type: typeof RecordType.Entry; entry: Entry }
  | { type: typeof RecordType.HardState; hardState: HardState }
  | { type: typeof RecordType.Snapshot; snapshot: SnapshotMetadata };

export function align8(n: number): number {
  return Math.ceil(n / RECORD_ALIGN_BYTES) * RECORD_ALIGN_BYTES;
}

export function payloadBytesOf(r: WalRecord): number {
  switch (r.type) {
    case RecordType.Metadata: return METADATA_BYTES;
    case RecordType.Entry: return ENTRY_FIXED_BYTES + r.entry.data.byteLength;
    case RecordType.HardState: return HARD_STATE_BYTES;
    case RecordType.Snapshot:
      return SNAPSHOT_FIXED_BYTES + 8 * (r.snapshot.confState.voters.length + r.snapshot.confState.learners.length);
    default: return assertNever(r);
  }
}

export function recordBytesOf(r: WalRecord): number {
  return align8(RECORD_HEADER_BYTES + payloadBytesOf(r));
}

/** Encodes records back to back into one zero-filled buffer (one writeSync for a whole batch). */
export function encodeRecords(records: readonly WalRecord[], salt: number): Buffer {
  let total = 0;
  for (const r of records) total += recordBytesOf(r);
  const buf = Buffer.alloc(total);
  let offset = 0;
  for (const r of records) offset = encodeRecordAt(buf, offset, r, r.type === RecordType.Metadata ? 0 : salt);
  assert.equal(offset, total);
  return buf;
}

/** Writes one record at `offset` of a zeroed `buf`; returns the offset just past it. */
export function encodeRecordAt(buf: Buffer, offset: number, r: WalRecord, salt: number): number {
  assert.equal(offset % RECORD_ALIGN_BYTES, 0, 'records are 8-byte aligned');
  const payloadBytes = payloadBytesOf(r);
  assert.ok(payloadBytes <= RECORD_PAYLOAD_MAX_BYTES, `wal record payload ${payloadBytes} B exceeds ${RECORD_PAYLOAD_MAX_BYTES} B`);
  const end = offset + align8(RECORD_HEADER_BYTES + payloadBytes);
  assert.ok(end <= buf.length, 'record fits its buffer');
  buf.writeUInt32LE(payloadBytes, offset + 4);
  buf[offset + 8] = r.type;
  const p = offset + RECORD_HEADER_BYTES;
  switch (r.type) {
    case RecordType.Metadata: writeMetadata(buf, p, r.metadata); break;
    case RecordType.Entry: writeEntry(buf, p, r.entry); break;
    case RecordType.HardState: writeHardState(buf, p, r.hardState); break;
    case RecordType.Snapshot: writeSnapshot(buf, p, r.snapshot); break;
    default: assertNever(r);
  }
  buf.writeUInt32LE(recordCrc(buf, offset, end, salt), offset);
  return end;
}

function recordCrc(buf: Buffer, start: number, end: number, salt: number): number {
  return crc32(buf.subarray(start + 4, end), salt);
}

/** Why a record could not be decoded at some offset. */
export type RecordFault = 'zero' | 'truncated' | 'badHeader' | 'crc';

export type DecodeResult =
  | { ok: true; record: WalRecord; endOffset: number }
  | { ok: false; fault: RecordFault };

/**
 * Decodes the record at `offset` of `buf` (a whole segment). A record whose CRC matches but whose
 * payload does not parse was written that way by us: that is a bug or tampering, and it throws.
 */
export function decodeRecordAt(buf: Uint8Array, offset: number, salt: number): DecodeResult {
  assert.equal(offset % RECORD_ALIGN_BYTES, 0, 'records are 8-byte aligned');
  assert.ok(offset <= buf.length);
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (offset + RECORD_HEADER_BYTES > b.length) return { ok: false, fault: isZero(b, offset, b.length) ? 'zero' : 'truncated' };
  const payloadBytes = b.readUInt32LE(offset + 4);
  const type = b[offset + 8] ?? 0;
  if (payloadBytes === 0 && type === 0 && isZero(b, offset, offset + RECORD_HEADER_BYTES)) return { ok: false, fault: 'zero' };
  const reservedZero = b[offset + 9] === 0 && b[offset + 10] === 0 && b[offset + 11] === 0;
  if (!reservedZero || type < RecordType.Metadata || type > RecordType.Snapshot || payloadBytes > RECORD_PAYLOAD_MAX_BYTES) {
    return { ok: false, fault: 'badHeader' };
  }
  const end = offset + align8(RECORD_HEADER_BYTES + payloadBytes);
  if (end > b.length) return { ok: false, fault: 'truncated' };
  const seed = type === RecordType.Metadata ? 0 : salt;
  if (recordCrc(b, offset, end, seed) !== b.readUInt32LE(offset)) return { ok: false, fault: 'crc' };
  const record = decodePayload(b, type as RecordType, offset + RECORD_HEADER_BYTES, payloadBytes);
  assert.ok(end > offset);
  return { ok: true, record, endOffset: end };
}

function decodePayload(b: Buffer, type: RecordType, p: number, n: number): WalRecord {
  switch (type) {
    case RecordType.Metadata:
      assert.equal(n, METADATA_BYTES, 'wal metadata record has its fixed size');
      return { type, metadata: readMetadata(b, p) };
    case RecordType.Entry:
      assert.ok(n >= ENTRY_FIXED_BYTES, 'wal entry record holds its fixed fields');
      return { type, entry: readEntry(b, p, n) };
    case RecordType.HardState:
      assert.equal(n, HARD_STATE_BYTES, 'wal hard state record has its fixed size');
      return { type, hardState: { term: readU64(b, p), vote: b.readBigUInt64LE(p + 8), commit: readU64(b, p + 16) } };
    case RecordType.Snapshot:
      return { type, snapshot: readSnapshot(b, p, n) };
    default: return assertNever(type);
  }
}

function writeMetadata(b: Buffer, p: number, m: SegmentMetadata): void {
  assert.ok(Number.isInteger(m.salt) && m.salt >= 0 && m.salt <= 0xffffffff, 'salt is a u32');
  b.writeUInt32LE(m.formatVersion, p);
  b.writeUInt32LE(m.salt, p + 4);
  writeU64(b, p + 8, m.seq);
  writeU64(b, p + 16, m.firstIndex);
  b.writeBigUInt64LE(m.memberId, p + 24);
  b.writeBigUInt64LE(m.clusterId, p + 32);
}

function readMetadata(b: Buffer, p: number): SegmentMetadata {
  return {
    formatVersion: b.readUInt32LE(p),
    salt: b.readUInt32LE(p + 4),
    seq: readU64(b, p + 8),
    firstIndex: readU64(b, p + 16),
    memberId: b.readBigUInt64LE(p + 24),
    clusterId: b.readBigUInt64LE(p + 32),
  };
}

function writeEntry(b: Buffer, p: number, e: Entry): void {
  assert.ok(e.index >= 1, 'raft indexes start at 1');
  assert.ok(e.type === 0 || e.type === 1, 'entry type is Normal or ConfChange');
  writeU64(b, p, e.index);
  writeU64(b, p + 8, e.term);
  b[p + 16] = e.type;
  b.set(e.data, p + ENTRY_FIXED_BYTES);
}

function readEntry(b: Buffer, p: number, n: number): Entry {
  const type = b[p + 16];
  assert.ok(type === 0 || type === 1, 'wal entry type is Normal or ConfChange');
  // A copy, so that entries do not pin the whole segment buffer they were read from.
  const data = new Uint8Array(b.subarray(p + ENTRY_FIXED_BYTES, p + n));
  return { index: readU64(b, p), term: readU64(b, p + 8), type, data };
}

function writeHardState(b: Buffer, p: number, hs: HardState): void {
  writeU64(b, p, hs.term);
  b.writeBigUInt64LE(hs.vote, p + 8);
  writeU64(b, p + 16, hs.commit);
}

function writeSnapshot(b: Buffer, p: number, s: SnapshotMetadata): void {
  const { voters, learners } = s.confState;
  assert.ok(voters.length + learners.length <= SNAPSHOT_MEMBERS_MAX, 'snapshot conf state within bound');
  writeU64(b, p, s.index);
  writeU64(b, p + 8, s.term);
  b.writeUInt32LE(voters.length, p + 16);
  b.writeUInt32LE(learners.length, p + 20);
  let q = p + SNAPSHOT_FIXED_BYTES;
  for (const id of [...voters, ...learners]) { b.writeBigUInt64LE(id, q); q += 8; }
}

function readSnapshot(b: Buffer, p: number, n: number): SnapshotMetadata {
  assert.ok(n >= SNAPSHOT_FIXED_BYTES, 'wal snapshot record holds its fixed fields');
  const voterCount = b.readUInt32LE(p + 16);
  const learnerCount = b.readUInt32LE(p + 20);
  assert.ok(voterCount + learnerCount <= SNAPSHOT_MEMBERS_MAX, 'wal snapshot conf state within bound');
  assert.equal(n, SNAPSHOT_FIXED_BYTES + 8 * (voterCount + learnerCount), 'wal snapshot record size matches its counts');
  const ids: NodeId[] = [];
  for (let q = p + SNAPSHOT_FIXED_BYTES; q < p + n; q += 8) ids.push(b.readBigUInt64LE(q));
  const confState: ConfState = { voters: ids.slice(0, voterCount), learners: ids.slice(voterCount) };
  return { index: readU64(b, p), term: readU64(b, p + 8), confState };
}

const TWO_POW_32 = 0x1_0000_0000;

function writeU64(b: Buffer, p: number, v: number): void {
  assert.ok(Number.isSafeInteger(v) && v >= 0, `wal u64 field is a non-negative safe integer (got ${v})`);
  b.writeUInt32LE(v % TWO_POW_32, p);
  b.writeUInt32LE(Math.floor(v / TWO_POW_32), p + 4);
}

function readU64(b: Buffer, p: number): number {
  const v = b.readUInt32LE(p + 4) * TWO_POW_32 + b.readUInt32LE(p);
  assert.ok(Number.isSafeInteger(v), 'wal u64 field is a safe integer');
  return v;
}

const ZEROS = Buffer.alloc(64 * 1024);

/** True when b[start, end) is all zero bytes (compared a chunk at a time: tails can be MiBs). */
export function isZero(b: Uint8Array, start: number, end: number): boolean {
  for (let p = start; p < end; p += ZEROS.length) {
    const n = Math.min(ZEROS.length, end - p);
    if (Buffer.compare(b.subarray(p, p + n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
}
