// Repair on open: a torn tail is truncated (at every byte offset of the last batch), real damage
// refuses to start with a WalCorruptError that names the file and offset.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Wal } from '../../src/wal/wal.js';
import { WalCorruptError } from '../../src/wal/errors.js';
import { RecordType, recordBytesOf } from '../../src/wal/record.js';
import { TEST_OPTS, copyDir, dataFor, entries, entry, reopen, tempDir } from './helpers.js';

const NO_PREALLOC = { ...TEST_OPTS, preallocChunkBytes: 0 };

/** Writes entries 1..n-3 as earlier batches and n-2..n as one last batch; returns the file and the batch's record boundaries. */
function writeLastBatch(dir: string, n: number): { file: string; batchStart: number; ends: number[] } {
  const wal = Wal.open(dir, NO_PREALLOC);
  for (let i = 1; i <= n - 3; i++) { wal.append([entry(i)]); wal.sync(); }
  wal.close();
  const file = path.join(dir, fs.readdirSync(dir)[0]!);
  const batchStart = fs.statSync(file).size;
  const last = [entry(n - 2, 1, 5), entry(n - 1, 1, 40), entry(n, 1, 13)];
  const again = Wal.open(dir, NO_PREALLOC);
  again.append(last);
  again.close();
  const ends: number[] = [];
  let end = batchStart;
  for (const e of last) { end += recordBytesOf({ type: RecordType.Entry, entry: e }); ends.push(end); }
  assert.equal(fs.statSync(file).size, end);
  return { file, batchStart, ends };
}

function expectedCount(n: number, ends: number[], validBytes: number): number {
  return n - 3 + ends.filter((e) => e <= validBytes).length;
}

function checkOpens(dir: string, n: number, wantCount: number, tornExpected: boolean, what: string): void {
  const wal = reopen(dir, NO_PREALLOC);
  const got = wal.readAll().entries;
  assert.equal(got.length, wantCount, `${what}: keeps exactly the complete records`);
  got.forEach((e, k) => { assert.equal(e.index, k + 1); assert.deepEqual(e.data, dataFor(e.index, 1, e.data.length)); });
  assert.equal(wal.repaired !== undefined, tornExpected, `${what}: repaired is reported iff bytes were dropped`);
  // After a repair the WAL takes new appends and reads back cleanly.
  wal.append([entry(wantCount + 1)]);
  wal.close();
  const again = reopen(dir, NO_PREALLOC);
  assert.equal(again.readAll().entries.length, wantCount + 1, `${what}: append after repair`);
  assert.equal(again.repaired, undefined);
  again.close();
  assert.ok(n >= wantCount);
}

test('a tail cut at every byte offset of the last batch opens and keeps exactly the complete records', (t) => {
  const src = tempDir(t);
  const n = 20;
  const { file, batchStart, ends } = writeLastBatch(src, n);
  const work = tempDir(t);
  const bytes = fs.readFileSync(file);
  for (let len = batchStart; len < ends.at(-1)!; len++) {
    copyDir(src, work);
    fs.truncateSync(path.join(work, path.basename(file)), len);
    const complete = ends.includes(len) || len === batchStart;
    checkOpens(work, n, expectedCount(n, ends, len), !complete, `truncated to ${len}`);
  }
  assert.ok(bytes.length > batchStart);
});

test('a tail zeroed from every byte offset (preallocated space never written) opens the same way', (t) => {
  const src = tempDir(t);
  const n = 20;
  const { file, batchStart, ends } = writeLastBatch(src, n);
  const work = tempDir(t);
  const bytes = fs.readFileSync(file);
  for (let len = batchStart; len < ends.at(-1)!; len++) {
    const damaged = Buffer.concat([bytes, Buffer.alloc(4096)]);
    damaged.fill(0, len);
    // Zeroing only a record's zero padding leaves it whole: find how far records are intact.
    let validBytes = len;
    for (const e of ends) if (e > len && damaged.subarray(0, e).equals(Buffer.concat([bytes, Buffer.alloc(4096)]).subarray(0, e))) validBytes = e;
    copyDir(src, work);
    fs.writeFileSync(path.join(work, path.basename(file)), damaged);
    const count = expectedCount(n, ends, validBytes);
    const tornExpected = !ends.includes(validBytes) && validBytes !== batchStart;
    checkOpens(work, n, count, tornExpected, `zeroed from ${len}`);
  }
});

test('a flipped byte in the final record is a torn tail; in a record that valid ones follow, corruption', (t) => {
  const src = tempDir(t);
  const n = 20;
  const { file, batchStart, ends } = writeLastBatch(src, n);
  const name = path.basename(file);
  const work = tempDir(t);
  const flipAt = (offset: number): void => {
    copyDir(src, work);
    const buf = fs.readFileSync(path.join(work, name));
    buf[offset]! ^= 0x40;
    fs.writeFileSync(path.join(work, name), buf);
  };
  flipAt(ends[1]! + 20);
  checkOpens(work, n, n - 1, true, 'flip in the final record');
  flipAt(batchStart + 20);
  assert.throws(() => reopen(work, NO_PREALLOC), (e: unknown) => e instanceof WalCorruptError
    && e.file === name && e.offsetBytes === batchStart && e.message.includes(name) && /valid record follows/.test(e.message));
});

test('a flipped byte in an older segment refuses to start, naming the file and offset', (t) => {
  const dir = tempDir(t);
  const opts = { ...TEST_OPTS, segmentSizeBytes: 2048, preallocChunkBytes: 512 };
  const wal = Wal.open(dir, opts);
  for (let i = 1; i <= 100; i++) { wal.append([entry(i)]); wal.sync(); }
  wal.close();
  const names = fs.readdirSync(dir).sort();
  assert.ok(names.length >= 3);
  for (const victim of [names[0]!, names[1]!]) {
    const work = tempDir(t);
    copyDir(dir, work);
    const p = path.join(work, victim);
    const buf = fs.readFileSync(p);
    buf[200]! ^= 1; // inside an entry record after the header records
    fs.writeFileSync(p, buf);
    assert.throws(() => reopen(work, opts), (e: unknown) => e instanceof WalCorruptError
      && e.file === victim && e.message.includes(victim) && /sealed segment/.test(e.message) && e.offsetBytes >= 0 && e.offsetBytes <= 200);
  }
  // Zeroing the very last segment's tail beyond the header is a clean end, not damage.
  assert.equal(reopen(dir, opts).readAll().entries.length, 100);
});

test('a never-written sector inside a record that valid records follow is a torn write, not corruption', (t) => {
  const dir = tempDir(t);
  const wal = Wal.open(dir, NO_PREALLOC);
  wal.append(entries(1, 3));
  wal.close();
  const name = fs.readdirSync(dir)[0]!;
  const p = path.join(dir, name);
  const start = fs.statSync(p).size;
  const w2 = Wal.open(dir, NO_PREALLOC);
  w2.append([entry(4, 1, 3000), entry(5, 1, 100)]);
  w2.close();
  const work = tempDir(t);
  copyDir(dir, work);
  const buf = fs.readFileSync(path.join(work, name));
  const sector = Math.ceil((start + 100) / 512) * 512;
  buf.fill(0, sector, sector + 512);
  fs.writeFileSync(path.join(work, name), buf);
  const opened = reopen(work, NO_PREALLOC);
  assert.equal(opened.readAll().entries.length, 3);
  assert.deepEqual({ ...opened.repaired, droppedBytes: 0 }, { segment: name, offsetBytes: start, droppedBytes: 0, reason: 'crc' });
  opened.close();
  // The same record with one flipped byte (no zero sector) is corruption.
  copyDir(dir, work);
  const buf2 = fs.readFileSync(path.join(work, name));
  buf2[start + 100]! ^= 2;
  fs.writeFileSync(path.join(work, name), buf2);
  assert.throws(() => reopen(work, NO_PREALLOC), WalCorruptError);
});
