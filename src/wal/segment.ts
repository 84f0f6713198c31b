// Segment files: their names, and the pure scan that turns one segment's bytes into records,
// telling a torn tail (truncate it) from corruption (refuse to start). No I/O here.
//
// Names follow etcd: `%016x-%016x.wal`, sequence then firstIndex (lastIndex + 1 when the segment
// was cut; later overwrites may put lower indexes in it, so the name bounds from above the live
// entries of the PREVIOUS segment: every live entry there is <= this firstIndex - 1).
//
// Why a bad record is torn or corrupt (the rule the scan applies at the first record that does
// not decode, at offset X):
//   - the rest of the file is zeros                     -> the clean end (preallocated space);
//   - the segment is not the last one                   -> CORRUPT: a segment is synced before the
//                                                          next one is created, so nothing in it
//                                                          can be torn;
//   - no valid record can be found after X              -> TORN: the tail of an unsynced write;
//   - a valid record follows at Y, but [X, Y) holds an   -> TORN: a page of the write never reached
//     all-zero aligned 512-byte sector                     the disk (pages may persist out of
//                                                          order), so X was never synced and
//                                                          neither was anything after it;
//   - otherwise                                         -> CORRUPT: bytes changed under a record
//                                                          that valid records follow.
// The zero-sector rule is etcd's torn-write heuristic; its weakness (a flipped byte in a record
// whose data has an aligned zero sector and that valid records follow reads as torn) is accepted.
import assert from 'node:assert/strict';
import { AssertionError } from 'node:assert';
import { WalCorruptError } from './errors.js';
import {
  RECORD_ALIGN_BYTES, RECORD_HEADER_BYTES, RecordType, WAL_FORMAT_VERSION, decodeRecordAt, isZero,
  type RecordFault, type SegmentMetadata, type WalRecord,
} from './record.js';

export const SEGMENT_SUFFIX = '.wal';
export const SEGMENT_TMP_SUFFIX = '.wal.tmp';
/** Sector size for the torn-write heuristic (the smallest unit a disk writes atomically). */
export const SECTOR_BYTES = 512;
/** A segment larger than this is not read (a segment is ~segmentSizeBytes plus one batch). */
export const SEGMENT_FILE_MAX_BYTES = 1024 * 1024 * 1024;

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export function segmentName(seq: number, firstIndex: number): string {
  assert.ok(Number.isSafeInteger(seq) && seq >= 0 && Number.isSafeInteger(firstIndex) && firstIndex >= 0);
  return `${hex16(seq)}-${hex16(firstIndex)}${SEGMENT_SUFFIX}`;
}

export function parseSegmentName(name: string): { seq: number; firstIndex: number } | undefined {
  const m = NAME_RE.exec(name);
  if (m === null) return undefined;
  const seq = Number.parseInt(m[1] ?? '', 16);
  const firstIndex = Number.parseInt(m[2] ?? '', 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return undefined;
  return { seq, firstIndex };
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

/** What a scan found beyond the last good record of the last segment. */
export interface TornTail {
  offsetBytes: number;
  /** Bytes from offsetBytes to the last non-zero byte of the file (what the repair throws away). */
  droppedBytes: number;
  fault: RecordFault;
}

export interface SegmentScan {
  metadata: SegmentMetadata;
  /** Records after the metadata record, in file order. */
  records: WalRecord[];
  /** Offset just past the last good record: where the next append goes. */
  endBytes: number;
  torn?: TornTail;
}

/**
 * Scans one segment. `file` is its name (for errors and the metadata check); `isLast` says whether
 * a bad tail may be torn (only the last segment is ever written without a sync after it).
 */
export function scanSegment(buf: Uint8Array, file: string, isLast: boolean): SegmentScan {
  const name = parseSegmentName(file);
  assert.ok(name !== undefined, `scanSegment: ${file} is a segment name`);
  const first = decodeOrThrow(buf, 0, 0, file);
  if (!first.ok || first.record.type !== RecordType.Metadata) {
    throw new WalCorruptError(file, 0, `no valid metadata record at the start (${first.ok ? 'another record type' : first.fault})`);
  }
  const metadata = first.record.metadata;
  checkMetadata(metadata, name, file);
  const records: WalRecord[] = [];
  let offset = first.endOffset;
  for (;;) {
    const r = decodeOrThrow(buf, offset, metadata.salt, file);
    if (!r.ok) {
      const torn = classifyBadRecord(buf, offset, r.fault, metadata.salt, file, isLast);
      return torn === undefined ? { metadata, records, endBytes: offset } : { metadata, records, endBytes: offset, torn };
    }
    if (r.record.type === RecordType.Metadata) throw new WalCorruptError(file, offset, 'a second metadata record');
    records.push(r.record);
    assert.ok(r.endOffset > offset, 'the scan advances');
    offset = r.endOffset;
  }
}

function checkMetadata(m: SegmentMetadata, name: { seq: number; firstIndex: number }, file: string): void {
  if (m.formatVersion !== WAL_FORMAT_VERSION) {
    throw new WalCorruptError(file, 0, `format version ${m.formatVersion}, this build reads ${WAL_FORMAT_VERSION}`);
  }
  if (m.seq !== name.seq || m.firstIndex !== name.firstIndex) {
    throw new WalCorruptError(file, 0, `metadata says seq ${m.seq} firstIndex ${m.firstIndex}, unlike the file name`);
  }
}

/** A CRC-valid record whose payload does not parse is corruption too (or a writer bug). */
function decodeOrThrow(buf: Uint8Array, offset: number, salt: number, file: string): ReturnType<typeof decodeRecordAt> {
  try {
    return decodeRecordAt(buf, offset, salt);
  } catch (err) {
    if (err instanceof AssertionError) throw new WalCorruptError(file, offset, `record with a valid CRC does not parse: ${err.message}`);
    throw err;
  }
}

/** Applies the rule in the header; returns the torn tail, or undefined for a clean end. Throws on corruption. */
export function classifyBadRecord(
  buf: Uint8Array, offset: number, fault: RecordFault, salt: number, file: string, isLast: boolean,
): TornTail | undefined {
  if (isZero(buf, offset, buf.length)) return undefined;
  if (!isLast) {
    throw new WalCorruptError(file, offset, `${describeFault(fault)} in a sealed segment (not the last; it was synced before the next was created)`);
  }
  const torn: TornTail = { offsetBytes: offset, droppedBytes: nonZeroEnd(buf) - offset, fault };
  assert.ok(torn.droppedBytes > 0, 'a bad tail has non-zero bytes');
  const next = findValidRecord(buf, offset + RECORD_ALIGN_BYTES, salt);
  if (next < 0 || hasZeroSector(buf, offset, next)) return torn;
  throw new WalCorruptError(file, offset, `${describeFault(fault)}, yet a valid record follows at offset ${next}: this is not a torn write`);
}

function describeFault(fault: RecordFault): string {
  switch (fault) {
    case 'zero': return 'zeroed record header';
    case 'truncated': return 'truncated record';
    case 'badHeader': return 'invalid record header';
    case 'crc': return 'CRC mismatch';
  }
}

/** First offset >= from (8-aligned) where a non-metadata record validates, or -1. */
export function findValidRecord(buf: Uint8Array, from: number, salt: number): number {
  assert.equal(from % RECORD_ALIGN_BYTES, 0);
  for (let p = from; p + RECORD_HEADER_BYTES <= buf.length; p += RECORD_ALIGN_BYTES) {
    const type = buf[p + 8] ?? 0;
    // Cheap filter first: zeros and most garbage fail here without a CRC.
    if (type <= RecordType.Metadata || type > RecordType.Snapshot || buf[p + 9] !== 0 || buf[p + 10] !== 0 || buf[p + 11] !== 0) continue;
    let r;
    try {
      r = decodeRecordAt(buf, p, salt);
    } catch {
      continue; // a CRC collision inside garbage: not a record
    }
    if (r.ok) return p;
  }
  return -1;
}

/** True when [start, end) contains a whole, aligned, all-zero sector. */
export function hasZeroSector(buf: Uint8Array, start: number, end: number): boolean {
  for (let s = Math.ceil(start / SECTOR_BYTES) * SECTOR_BYTES; s + SECTOR_BYTES <= end; s += SECTOR_BYTES) {
    if (isZero(buf, s, s + SECTOR_BYTES)) return true;
  }
  return false;
}

/** Offset just past the last non-zero byte (0 when all zero). */
export function nonZeroEnd(buf: Uint8Array): number {
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return end;
}
