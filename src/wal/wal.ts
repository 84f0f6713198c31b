// The write-ahead log: raft entries, hard state and snapshot markers appended to segment files in
// `<data-dir>/member/wal/`, made durable by one fdatasync per batch. Nothing acknowledged (synced)
// may be lost; a torn tail from a crash is repaired on open, anything else refuses to start.
//
// It is a synchronous library: the wal-writer worker owns the files and blocking its thread in
// writeSync/fdatasync is how group commit happens (the mailbox fills while the disk works, and the
// next batch is one write and one sync). Use:
//
//   const wal = Wal.open(walDirOf(dataDir), { syncMode: 'fdatasync', memberId, clusterId });
//   if (wal.repaired) log.warn(wal.repaired, 'wal: truncated a torn tail');
//   const { snapshot, hardState, entries } = wal.readAll();  // rebuild raft storage
//   wal.append(rd.entries, rd.hardState); wal.sync();        // then report persisted(index)
//   wal.saveSnapshot(meta); wal.sync(); wal.releaseTo(meta.index);  // after the snapshot file is durable
//   wal.close();
//
// Files: segments are named `%016x-%016x.wal` (sequence, firstIndex); each starts with a metadata
// record, then copies of the hard state and latest snapshot marker (so releasing older segments
// never loses them). A segment is cut in sync() once it holds segmentSizeBytes: the old one is
// already synced, the new one is written to `<name>.tmp`, synced, renamed, and the directory
// synced, so a crash never leaves a half-made segment under a real name.
//
// Preallocation: the tail segment is extended with written zeros in preallocChunkBytes steps
// ahead of the write position. Measured on this machine (ext4, virtio disk; test/wal/measure.ts):
// fdatasync after a 4 KiB write took a median ~110-120 us into preallocated space and ~170-200 us
// when the write grew the file (the size change makes fdatasync commit metadata), so the default
// preallocates. Node has no fallocate, so the zeros cost one extra write of the log's size.
//
// Through the Wal (4 KiB record + sync, p50 of 200): ~150-190 us preallocated, ~220-310 us not.
// Appends/s of 100 B entries: ~3-8k with a sync per entry, ~40-70k per 10, ~170-330k per 100
// (a shared VM disk: figures vary run to run by up to 2x).
//
// Failpoints: opts.failpoint(name) is called at 'beforeWrite', 'afterWrite', 'beforeSync',
// 'afterSync' and 'beforeCut'; a test may throw or SIGKILL there. After a failpoint or any fs
// call throws (EIO, ENOSPC), the Wal must be abandoned like a crashed process: crash the actor
// and reopen the directory, which truncates whatever partial write was left.
//
// Not here: the snapshot FILES (the application state), and a lock against two processes
// opening one directory (Node has no flock; the member's data-dir lock must provide it).
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Entry, HardState, SnapshotMetadata } from '../raft/types.js';
import { WalCorruptError, WalError } from './errors.js';
import {
  RecordType, WAL_FORMAT_VERSION, decodeRecordAt, encodeRecords,
  type SegmentMetadata, type WalRecord,
} from './record.js';
import { EMPTY_HARD_STATE, LogReplayer, type RecoveredLog } from './replay.js';
import {
  SEGMENT_FILE_MAX_BYTES, SEGMENT_SUFFIX, SEGMENT_TMP_SUFFIX, parseSegmentName, scanSegment, segmentName,
  type TornTail,
} from './segment.js';

export type SyncMode = 'fdatasync' | 'fsync' | 'none';
export type WalFailpoint = 'beforeWrite' | 'afterWrite' | 'beforeSync' | 'afterSync' | 'beforeCut';

export const SEGMENT_SIZE_DEFAULT_BYTES = 64 * 1024 * 1024;
export const SEGMENT_SIZE_MIN_BYTES = 1024;
export const PREALLOC_CHUNK_DEFAULT_BYTES = 4 * 1024 * 1024;
/** Bound on one append() batch (the raft host batches far less than this). */
export const APPEND_MAX_BYTES = 256 * 1024 * 1024;
const ZERO_CHUNK = Buffer.alloc(1024 * 1024);

export interface WalOptions {
  /**
   * 'fdatasync' (default choice for production), 'fsync' (also flushes inode times), or 'none':
   * no flush at all. 'none' is UNSAFE (a power loss loses acknowledged writes and may leave
   * damage that open() cannot repair): tests and benchmarks only.
   */
  syncMode: SyncMode;
  /** Cut a new segment once the tail holds this much. Default 64 MiB (etcd's). */
  segmentSizeBytes?: number;
  /** Zeros written ahead of the write position, in steps of this size; 0 disables. Default 4 MiB. */
  preallocChunkBytes?: number;
  /** Stored in each segment's metadata; open() refuses a WAL written for another member/cluster. 0n = unset. */
  memberId?: bigint;
  clusterId?: bigint;
  /** Decode every encoded batch before writing it and compare (tests/debug; costs a decode). */
  verifyWrites?: boolean;
  failpoint?: (name: WalFailpoint) => void;
}

/** What open() cut away from the last segment (log it). */
export interface WalRepair {
  segment: string;
  offsetBytes: number;
  droppedBytes: number;
  reason: TornTail['fault'];
}

interface SegmentRef { seq: number; firstIndex: number; name: string }

/** The directory etcd uses for the WAL inside a data dir. */
export function walDirOf(dataDir: string): string {
  return path.join(dataDir, 'member', 'wal');
}

export class Wal {
  readonly dir: string;
  /** Set when open() truncated a torn tail. */
  readonly repaired: WalRepair | undefined;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  private readonly opts: ResolvedOptions;
  /** Oldest first; sequences are contiguous; the last one is the tail being written. */
  private segments: SegmentRef[];
  private fd: number;
  /** CRC salt of the tail segment. */
  private salt: number;
  /** Where the next record goes in the tail; everything before it is valid records. */
  private offsetBytes: number;
  /** Size of the tail file; [offsetBytes, allocatedBytes) is zeros. */
  private allocatedBytes: number;
  /** Index of the last entry appended (or of the snapshot when it is past them); 0 when none. */
  private lastIndexValue: number;
  private hardState: HardState;
  private snapshot: SnapshotMetadata | undefined;
  /** Snapshot index whose marker has been synced: releaseTo may not go beyond it. */
  private syncedSnapshotIndex: number;
  /** True when bytes were written since the last sync. */
  private dirty = false;
  private closed = false;
  private recovered: RecoveredLog | undefined;

  private constructor(dir: string, opts: ResolvedOptions, s: OpenState) {
    this.dir = dir;
    this.opts = opts;
    this.repaired = s.repaired;
    this.memberId = s.memberId;
    this.clusterId = s.clusterId;
    this.segments = s.segments;
    this.fd = s.fd;
    this.salt = s.salt;
    this.offsetBytes = s.offsetBytes;
    this.allocatedBytes = s.allocatedBytes;
    this.recovered = s.recovered;
    this.hardState = s.recovered.hardState;
    this.snapshot = s.recovered.snapshot;
    this.syncedSnapshotIndex = s.recovered.snapshot?.index ?? 0;
    this.lastIndexValue = s.recovered.entries.at(-1)?.index ?? this.syncedSnapshotIndex;
    assert.ok(this.offsetBytes <= this.allocatedBytes);
  }

  /**
   * Opens (creating on first use) the WAL in `dir`. Repairs a torn tail (see `repaired`), throws
   * WalCorruptError on real damage and WalError('WalMismatch') when it belongs to another member.
   */
  static open(dir: string, options: WalOptions): Wal {
    const opts = resolveOptions(options);
    const created = !fs.existsSync(dir);
    fs.mkdirSync(dir, { recursive: true });
    if (created) fsyncDir(path.dirname(dir), opts.syncMode);
    const names = listSegments(dir);
    const s = names.length === 0 ? createFirst(dir, opts) : openExisting(dir, names, opts);
    return new Wal(dir, opts, s);
  }

  /** What the log held at open(): the latest snapshot marker, hard state, and the entries after it. */
  readAll(): RecoveredLog {
    assert.ok(this.recovered !== undefined, 'readAll: the WAL is open');
    return this.recovered;
  }

  get lastIndex(): number { return this.lastIndexValue; }
  get segmentCount(): number { return this.segments.length; }
  /** Segment file names, oldest first. */
  segmentNames(): string[] { return this.segments.map((s) => s.name); }

  /**
   * Appends entries then the hard state in one write (no flush: call sync()). An entry at an index
   * <= lastIndex overwrites it and all after it (raft's conflict resolution).
   */
  append(entries: readonly Entry[], hardState?: HardState): void {
    this.assertOpen();
    if (entries.length === 0 && hardState === undefined) return;
    this.checkEntries(entries);
    if (hardState !== undefined) checkHardState(this.hardState, hardState);
    const records: WalRecord[] = entries.map((entry) => ({ type: RecordType.Entry, entry }));
    if (hardState !== undefined) records.push({ type: RecordType.HardState, hardState });
    this.write(records);
    const last = entries.at(-1);
    if (last !== undefined) this.lastIndexValue = last.index;
    if (hardState !== undefined) this.hardState = { ...hardState }; // a copy: segment headers repeat it later
  }

  /** Appends a snapshot marker (the snapshot FILE must already be durable). Call sync() after. */
  saveSnapshot(meta: SnapshotMetadata): void {
    this.assertOpen();
    const prev = this.snapshot?.index ?? 0;
    assert.ok(meta.index >= prev, `saveSnapshot: index ${meta.index} goes back from ${prev}`);
    assert.ok(meta.index === 0 || meta.term >= 1, 'saveSnapshot: a snapshot at an index has a term');
    this.write([{ type: RecordType.Snapshot, snapshot: meta }]);
    this.snapshot = { index: meta.index, term: meta.term, confState: { voters: [...meta.confState.voters], learners: [...meta.confState.learners] } };
    this.lastIndexValue = Math.max(this.lastIndexValue, meta.index);
  }

  /** Makes everything appended so far durable (one fdatasync); cuts a new segment when the tail is full. */
  sync(): void {
    this.assertOpen();
    if (!this.dirty) return;
    this.fire('beforeSync');
    flush(this.fd, this.opts.syncMode);
    this.dirty = false;
    this.syncedSnapshotIndex = this.snapshot?.index ?? 0;
    this.fire('afterSync');
    if (this.offsetBytes >= this.opts.segmentSizeBytes) this.cut();
  }

  /**
   * Deletes the oldest segments whose live entries are all <= index (needs a synced snapshot
   * marker at >= index). The tail segment is never deleted. Returns the deleted file names.
   */
  releaseTo(index: number): string[] {
    this.assertOpen();
    assert.ok(index <= this.syncedSnapshotIndex, `releaseTo(${index}): no synced snapshot marker covers it (have ${this.syncedSnapshotIndex})`);
    const removed: string[] = [];
    // segments[1].firstIndex - 1 bounds every live entry of segments[0] (see segment.ts).
    while (this.segments.length > 1 && this.segments[1]!.firstIndex - 1 <= index) {
      const old = this.segments.shift()!;
      fs.unlinkSync(path.join(this.dir, old.name));
      removed.push(old.name);
    }
    if (removed.length > 0) fsyncDir(this.dir, this.opts.syncMode);
    assert.ok(this.segments.length >= 1);
    return removed;
  }

  /** Syncs and closes. */
  close(): void {
    if (this.closed) return;
    this.sync();
    fs.closeSync(this.fd);
    this.closed = true;
    this.recovered = undefined;
  }

  private checkEntries(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert.ok(first.index <= this.lastIndexValue + 1, `append: entry ${first.index} leaves a gap after ${this.lastIndexValue}`);
    assert.ok(first.index > (this.snapshot?.index ?? 0), `append: entry ${first.index} is at or below the snapshot`);
    for (let i = 1; i < entries.length; i++) {
      assert.equal(entries[i]!.index, first.index + i, 'append: entries are contiguous');
      assert.ok(entries[i]!.term >= entries[i - 1]!.term, 'append: terms do not decrease along the log');
    }
  }

  private write(records: WalRecord[]): void {
    const buf = encodeRecords(records, this.salt);
    assert.ok(buf.length <= APPEND_MAX_BYTES, `wal append of ${buf.length} B exceeds ${APPEND_MAX_BYTES} B`);
    if (this.opts.verifyWrites) assertRoundTrip(buf, records, this.salt);
    this.fire('beforeWrite');
    writeFully(this.fd, buf, this.offsetBytes);
    this.offsetBytes += buf.length;
    this.dirty = true;
    if (this.offsetBytes > this.allocatedBytes) {
      this.allocatedBytes = preallocate(this.fd, this.offsetBytes, this.opts.preallocChunkBytes);
    }
    this.fire('afterWrite');
  }

  private cut(): void {
    assert.ok(!this.dirty, 'cut: the tail is synced first');
    this.fire('beforeCut');
    const tail = this.segments.at(-1)!;
    const next = { seq: tail.seq + 1, firstIndex: this.lastIndexValue + 1 };
    const params = { syncMode: this.opts.syncMode, preallocChunkBytes: this.opts.preallocChunkBytes, memberId: this.memberId, clusterId: this.clusterId };
    const made = createSegment(this.dir, next, this.header(), params);
    fs.closeSync(this.fd);
    this.segments.push({ ...next, name: made.name });
    this.fd = made.fd;
    this.salt = made.salt;
    this.offsetBytes = made.offsetBytes;
    this.allocatedBytes = made.allocatedBytes;
  }

  /** Records copied at the start of every new segment, after its metadata. */
  private header(): WalRecord[] {
    const out: WalRecord[] = [{ type: RecordType.HardState, hardState: this.hardState }];
    if (this.snapshot !== undefined) out.push({ type: RecordType.Snapshot, snapshot: this.snapshot });
    return out;
  }

  private fire(name: WalFailpoint): void {
    this.opts.failpoint?.(name);
  }

  private assertOpen(): void {
    assert.ok(!this.closed, 'wal is closed');
  }
}

interface OpenState {
  segments: SegmentRef[];
  fd: number;
  salt: number;
  offsetBytes: number;
  allocatedBytes: number;
  recovered: RecoveredLog;
  repaired: WalRepair | undefined;
  memberId: bigint;
  clusterId: bigint;
}

interface ResolvedOptions {
  syncMode: SyncMode;
  segmentSizeBytes: number;
  /** At most segmentSizeBytes (preallocating past a segment's end would be wasted). */
  preallocChunkBytes: number;
  memberId: bigint | undefined;
  clusterId: bigint | undefined;
  verifyWrites: boolean;
  failpoint: WalOptions['failpoint'];
}

function resolveOptions(opts: WalOptions): ResolvedOptions {
  assert.ok(['fdatasync', 'fsync', 'none'].includes(opts.syncMode), `wal: syncMode ${String(opts.syncMode)}`);
  const seg = opts.segmentSizeBytes ?? SEGMENT_SIZE_DEFAULT_BYTES;
  assert.ok(Number.isSafeInteger(seg) && seg >= SEGMENT_SIZE_MIN_BYTES && seg <= SEGMENT_FILE_MAX_BYTES / 2, `wal: segmentSizeBytes ${seg}`);
  const chunk = opts.preallocChunkBytes ?? PREALLOC_CHUNK_DEFAULT_BYTES;
  assert.ok(Number.isSafeInteger(chunk) && chunk >= 0, `wal: preallocChunkBytes ${chunk}`);
  return {
    syncMode: opts.syncMode, segmentSizeBytes: seg, preallocChunkBytes: Math.min(chunk, seg),
    memberId: opts.memberId, clusterId: opts.clusterId, verifyWrites: opts.verifyWrites ?? false, failpoint: opts.failpoint,
  };
}

/** Segment names in `dir`, by sequence; removes leftovers of an interrupted cut. */
function listSegments(dir: string): SegmentRef[] {
  const out: SegmentRef[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith(SEGMENT_TMP_SUFFIX)) { fs.unlinkSync(path.join(dir, name)); continue; }
    if (!name.endsWith(SEGMENT_SUFFIX)) continue;
    const parsed = parseSegmentName(name);
    if (parsed === undefined) throw new WalCorruptError(name, -1, 'not a segment name (expected %016x-%016x.wal)');
    out.push({ ...parsed, name });
  }
  out.sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.seq !== out[i - 1]!.seq + 1) {
      throw new WalCorruptError(out[i]!.name, -1, `segment sequence jumps from ${out[i - 1]!.seq} to ${out[i]!.seq} (a segment is missing)`);
    }
  }
  return out;
}

function createFirst(dir: string, opts: ResolvedOptions): OpenState {
  const ref = { seq: 0, firstIndex: 1 };
  const recovered: RecoveredLog = { hardState: { ...EMPTY_HARD_STATE }, entries: [] };
  const header: WalRecord[] = [{ type: RecordType.HardState, hardState: EMPTY_HARD_STATE }];
  const ids = { memberId: opts.memberId ?? 0n, clusterId: opts.clusterId ?? 0n };
  const params = { syncMode: opts.syncMode, preallocChunkBytes: opts.preallocChunkBytes, ...ids };
  const made = createSegment(dir, ref, header, params);
  return { segments: [{ ...ref, name: made.name }], ...made, recovered, repaired: undefined, ...ids };
}

function openExisting(dir: string, segments: SegmentRef[], opts: ResolvedOptions): OpenState {
  const replayer = new LogReplayer();
  let last: { buf: Buffer; scan: ReturnType<typeof scanSegment> } | undefined;
  let ids: { memberId: bigint; clusterId: bigint } | undefined;
  for (const [i, seg] of segments.entries()) {
    const buf = readSegment(path.join(dir, seg.name));
    const scan = scanSegment(buf, seg.name, i === segments.length - 1);
    ids ??= { memberId: scan.metadata.memberId, clusterId: scan.metadata.clusterId };
    if (scan.metadata.memberId !== ids.memberId || scan.metadata.clusterId !== ids.clusterId) {
      throw new WalCorruptError(seg.name, 0, 'member/cluster id differ from the first segment');
    }
    for (const r of scan.records) replayer.push(r);
    last = { buf, scan };
  }
  assert.ok(last !== undefined && ids !== undefined);
  checkIds(ids, opts);
  const recovered = replayer.finish();
  const tail = segments.at(-1)!;
  const file = path.join(dir, tail.name);
  const fd = fs.openSync(file, 'r+');
  let repaired: WalRepair | undefined;
  const torn = last.scan.torn;
  if (torn !== undefined) {
    fs.ftruncateSync(fd, torn.offsetBytes);
    flush(fd, opts.syncMode);
    repaired = { segment: tail.name, offsetBytes: torn.offsetBytes, droppedBytes: torn.droppedBytes, reason: torn.fault };
  }
  const allocatedBytes = fs.fstatSync(fd).size;
  const common = { segments, fd, salt: last.scan.metadata.salt, offsetBytes: last.scan.endBytes, allocatedBytes };
  return { ...common, recovered, repaired, ...ids };
}

function checkIds(stored: { memberId: bigint; clusterId: bigint }, opts: ResolvedOptions): void {
  const clash = (want: bigint | undefined, have: bigint): boolean => want !== undefined && want !== 0n && have !== 0n && want !== have;
  if (clash(opts.memberId, stored.memberId) || clash(opts.clusterId, stored.clusterId)) {
    throw new WalError('WalMismatch', `wal belongs to member ${stored.memberId.toString(16)} of cluster ${stored.clusterId.toString(16)}, `
      + `not member ${(opts.memberId ?? 0n).toString(16)} of cluster ${(opts.clusterId ?? 0n).toString(16)}; refusing to start`);
  }
}

function readSegment(file: string): Buffer {
  const size = fs.statSync(file).size;
  if (size > SEGMENT_FILE_MAX_BYTES) throw new WalCorruptError(path.basename(file), -1, `segment of ${size} B exceeds ${SEGMENT_FILE_MAX_BYTES} B`);
  return fs.readFileSync(file);
}

interface SegmentParams { syncMode: SyncMode; preallocChunkBytes: number; memberId: bigint; clusterId: bigint }

/** Writes a new segment as `<name>.tmp`, syncs it, renames it into place and syncs the directory. */
function createSegment(
  dir: string, ref: { seq: number; firstIndex: number }, header: WalRecord[], opts: SegmentParams,
): { name: string; fd: number; salt: number; offsetBytes: number; allocatedBytes: number } {
  const salt = randomInt(0, 0x1_0000_0000);
  const metadata: SegmentMetadata = {
    formatVersion: WAL_FORMAT_VERSION, salt, seq: ref.seq, firstIndex: ref.firstIndex,
    memberId: opts.memberId, clusterId: opts.clusterId,
  };
  const buf = encodeRecords([{ type: RecordType.Metadata, metadata }, ...header], salt);
  const name = segmentName(ref.seq, ref.firstIndex);
  const tmp = path.join(dir, name.slice(0, -SEGMENT_SUFFIX.length) + SEGMENT_TMP_SUFFIX);
  const fd = fs.openSync(tmp, 'w+');
  writeFully(fd, buf, 0);
  const allocatedBytes = preallocate(fd, buf.length, opts.preallocChunkBytes);
  flush(fd, opts.syncMode);
  fs.renameSync(tmp, path.join(dir, name));
  fsyncDir(dir, opts.syncMode);
  return { name, fd, salt, offsetBytes: buf.length, allocatedBytes };
}

/** Writes zeros from `end` up to the next multiple of chunkBytes; returns the new file size. */
function preallocate(fd: number, end: number, chunkBytes: number): number {
  if (chunkBytes === 0) return end;
  const target = Math.ceil(end / chunkBytes) * chunkBytes;
  for (let p = end; p < target; p += ZERO_CHUNK.length) {
    writeFully(fd, ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, target - p)), p);
  }
  return target;
}

function writeFully(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.writeSync(fd, buf, done, buf.length - done, position + done);
    assert.ok(n > 0, 'writeSync made progress');
    done += n;
  }
}

function flush(fd: number, mode: SyncMode): void {
  if (mode === 'fdatasync') fs.fdatasyncSync(fd);
  else if (mode === 'fsync') fs.fsyncSync(fd);
}

function fsyncDir(dir: string, mode: SyncMode): void {
  if (mode === 'none') return;
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

function checkHardState(prev: HardState, next: HardState): void {
  assert.ok(next.term >= prev.term, `hard state term goes back from ${prev.term} to ${next.term}`);
  assert.ok(next.commit >= prev.commit, `hard state commit goes back from ${prev.commit} to ${next.commit}`);
  assert.ok(next.term > prev.term || prev.vote === 0n || next.vote === prev.vote, 'hard state changes its vote within a term');
}

/** Debug check: the batch decodes record by record, and re-encoding what was decoded gives the same bytes. */
function assertRoundTrip(buf: Buffer, records: WalRecord[], salt: number): void {
  let offset = 0;
  for (const want of records) {
    const got = decodeRecordAt(buf, offset, salt);
    assert.ok(got.ok, `encoded record at ${offset} does not decode`);
    assert.equal(got.record.type, want.type);
    const again = encodeRecords([got.record], salt);
    assert.ok(again.equals(buf.subarray(offset, got.endOffset)), `record at ${offset} does not round-trip`);
    offset = got.endOffset;
  }
  assert.equal(offset, buf.length);
}
