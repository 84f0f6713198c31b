// Record codec, segment names, the torn-vs-corrupt classifier and log replay: pure parts of the WAL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WalCorruptError } from '../../src/wal/errors.js';
import {
  RECORD_HEADER_BYTES, RecordType, align8, decodeRecordAt, encodeRecords, recordBytesOf, type WalRecord,
} from '../../src/wal/record.js';
import { LogReplayer } from '../../src/wal/replay.js';
import { classifyBadRecord, hasZeroSector, parseSegmentName, segmentName } from '../../src/wal/segment.js';
import { entry } from './helpers.js';

const SALT = 0xdeadbeef;

const samples: WalRecord[] = [
  {
    type: RecordType.Metadata,
    metadata: { formatVersion: 1, salt: SALT, seq: 3, firstIndex: 2 ** 40, memberId: 0xffff_ffff_ffff_ffffn, clusterId: 42n },
  },
  { type: RecordType.Entry, entry: { index: 1, term: 1, type: 0, data: new Uint8Array(0) } },
  { type: RecordType.Entry, entry: { index: Number.MAX_SAFE_INTEGER, term: 2 ** 33 + 5, type: 1, data: new Uint8Array([0, 1, 2, 255]) } },
  { type: RecordType.Entry, entry: entry(77, 3, 1000) },
  { type: RecordType.HardState, hardState: { term: 9, vote: 0x8e9e05c52164694dn, commit: 123456789012 } },
  { type: RecordType.Snapshot, snapshot: { index: 500, term: 7, confState: { voters: [1n, 2n, 3n], learners: [4n] } } },
  { type: RecordType.Snapshot, snapshot: { index: 0, term: 0, confState: { voters: [], learners: [] } } },
];

function decodeAll(buf: Buffer, salt: number): WalRecord[] {
  const out: WalRecord[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const r = decodeRecordAt(buf, offset, salt);
    assert.ok(r.ok, `record at ${offset} decodes`);
    out.push(r.record);
    offset = r.endOffset;
  }
  return out;
}

test('every record type round-trips, 8-byte aligned', () => {
  const buf = encodeRecords(samples, SALT);
  assert.equal(buf.length % 8, 0);
  assert.equal(buf.length, samples.reduce((n, r) => n + recordBytesOf(r), 0));
  assert.deepEqual(decodeAll(buf, SALT), samples);
});

test('worked example: a 3-byte entry takes 32 bytes', () => {
  const r: WalRecord = { type: RecordType.Entry, entry: { index: 1, term: 1, type: 0, data: new Uint8Array([1, 2, 3]) } };
  assert.equal(recordBytesOf(r), 32);
  assert.equal(align8(RECORD_HEADER_BYTES + 17 + 3), 32);
});

test('decode reports zero, truncated, bad header and CRC faults', () => {
  const buf = encodeRecords([samples[3]!], SALT);
  assert.deepEqual(decodeRecordAt(Buffer.alloc(64), 0, SALT), { ok: false, fault: 'zero' });
  assert.deepEqual(decodeRecordAt(buf.subarray(0, buf.length - 1), 0, SALT), { ok: false, fault: 'truncated' });
  assert.deepEqual(decodeRecordAt(buf.subarray(0, 5), 0, SALT), { ok: false, fault: 'truncated' });
  assert.deepEqual(decodeRecordAt(buf, 0, (SALT ^ 1) >>> 0), { ok: false, fault: 'crc' }, 'another segment salt does not validate');
  for (const at of [0, 5, 9, RECORD_HEADER_BYTES + 3, buf.length - 1]) {
    const bad = Buffer.from(buf);
    bad[at]! ^= 0x10;
    const r = decodeRecordAt(bad, 0, SALT);
    assert.equal(r.ok, false, `a flip at byte ${at} is caught`);
  }
  const badType = Buffer.from(buf);
  badType[8] = 9;
  assert.deepEqual(decodeRecordAt(badType, 0, SALT), { ok: false, fault: 'badHeader' });
});

test('encoder refuses out-of-range fields', () => {
  assert.throws(() => encodeRecords([{ type: RecordType.Entry, entry: { index: 0, term: 1, type: 0, data: new Uint8Array() } }], SALT));
  assert.throws(() => encodeRecords([{ type: RecordType.Entry, entry: { index: 1.5, term: 1, type: 0, data: new Uint8Array() } }], SALT));
  assert.throws(() => encodeRecords([{ type: RecordType.HardState, hardState: { term: -1, vote: 0n, commit: 0 } }], SALT));
});

test('segment names are etcd-shaped and parse back', () => {
  assert.equal(segmentName(1, 0x2a), '0000000000000001-000000000000002a.wal');
  assert.deepEqual(parseSegmentName('0000000000000001-000000000000002a.wal'), { seq: 1, firstIndex: 42 });
  assert.equal(parseSegmentName('0000000000000001-000000000000002a.wal.tmp'), undefined);
  assert.equal(parseSegmentName('1-2.wal'), undefined);
});

test('classifier: torn when nothing valid follows, corrupt when a valid record follows, torn on a zero sector', () => {
  const recs = [1, 2, 3].map((i): WalRecord => ({ type: RecordType.Entry, entry: entry(i, 1, 1500) }));
  const buf = encodeRecords(recs, SALT);
  const second = recordBytesOf(recs[0]!);
  const flipped = Buffer.from(buf);
  flipped[second + 40]! ^= 1;
  assert.throws(() => classifyBadRecord(flipped, second, 'crc', SALT, 'x.wal', true), (e: unknown) => e instanceof WalCorruptError && /offset/.test(e.message));
  assert.throws(() => classifyBadRecord(flipped, second, 'crc', SALT, 'x.wal', false), WalCorruptError);
  const tail = Buffer.from(flipped.subarray(0, second + recordBytesOf(recs[1]!)));
  assert.deepEqual(classifyBadRecord(tail, second, 'crc', SALT, 'x.wal', true)?.offsetBytes, second);
  const zeroed = Buffer.from(buf);
  const sector = Math.ceil((second + 12) / 512) * 512;
  zeroed.fill(0, sector, sector + 512);
  assert.ok(hasZeroSector(zeroed, second, second + recordBytesOf(recs[1]!)));
  assert.equal(classifyBadRecord(zeroed, second, 'crc', SALT, 'x.wal', true)?.offsetBytes, second);
  assert.equal(classifyBadRecord(Buffer.alloc(64), 8, 'zero', SALT, 'x.wal', false), undefined, 'zeros are a clean end');
});

test('replay: the worked example in replay.ts', () => {
  const r = new LogReplayer();
  const push = (index: number, term: number): void => r.push({ type: RecordType.Entry, entry: entry(index, term) });
  push(1, 1); push(2, 1); push(3, 1); push(4, 1);
  push(3, 2); push(4, 2); push(5, 2);
  r.push({ type: RecordType.Snapshot, snapshot: { index: 4, term: 2, confState: { voters: [1n], learners: [] } } });
  push(6, 3);
  r.push({ type: RecordType.HardState, hardState: { term: 3, vote: 1n, commit: 5 } });
  const out = r.finish();
  assert.equal(out.snapshot?.index, 4);
  assert.deepEqual(out.entries.map((e) => [e.index, e.term]), [[5, 2], [6, 3]]);
  assert.deepEqual(out.hardState, { term: 3, vote: 1n, commit: 5 });
});

test('replay: a snapshot not in the log discards it; repeats of older markers are ignored; gaps are corruption', () => {
  const r = new LogReplayer();
  for (let i = 1; i <= 5; i++) r.push({ type: RecordType.Entry, entry: entry(i, 1) });
  r.push({ type: RecordType.Snapshot, snapshot: { index: 3, term: 9, confState: { voters: [], learners: [] } } });
  r.push({ type: RecordType.Entry, entry: entry(4, 9) });
  r.push({ type: RecordType.Snapshot, snapshot: { index: 2, term: 1, confState: { voters: [], learners: [] } } });
  assert.deepEqual(r.finish().entries.map((e) => [e.index, e.term]), [[4, 9]]);

  const g = new LogReplayer();
  g.push({ type: RecordType.Entry, entry: entry(1, 1) });
  g.push({ type: RecordType.Entry, entry: entry(3, 1) });
  assert.throws(() => g.finish(), /entries 1\.\.2 are missing/);
});
