// Wal end to end in one process: appends and reopen, overwrites, segment cuts, snapshots and
// releaseTo, identity checks, failpoints and the contract asserts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Wal, walDirOf, type WalFailpoint } from '../../src/wal/wal.js';
import { WalError } from '../../src/wal/errors.js';
import { TEST_OPTS, dataFor, entries, entry, reopen, tempDir } from './helpers.js';

const SMALL = { ...TEST_OPTS, segmentSizeBytes: 4096, preallocChunkBytes: 1024 };

function assertLog(wal: Wal, from: number, to: number, termOf: (i: number) => number = () => 1): void {
  const got = wal.readAll().entries;
  assert.equal(got.length, to - from + 1, `entries ${from}..${to}`);
  got.forEach((e, k) => {
    assert.equal(e.index, from + k);
    assert.equal(e.term, termOf(e.index));
    assert.deepEqual(e.data, dataFor(e.index, e.term));
  });
}

test('a new WAL is empty; many appends survive a reopen, with the latest hard state', (t) => {
  const dir = walDirOf(tempDir(t));
  const wal = Wal.open(dir, { ...TEST_OPTS, syncMode: 'fdatasync' });
  assert.deepEqual(wal.readAll(), { hardState: { term: 0, vote: 0n, commit: 0 }, entries: [] });
  for (let i = 1; i <= 1000; i += 10) {
    wal.append(entries(i, i + 9), { term: 1, vote: 2n, commit: i });
    if (i % 100 === 1) wal.sync();
  }
  wal.close();
  const again = reopen(dir);
  assertLog(again, 1, 1000);
  assert.deepEqual(again.readAll().hardState, { term: 1, vote: 2n, commit: 991 });
  assert.equal(again.lastIndex, 1000);
  assert.equal(again.repaired, undefined);
  again.append([entry(1001)]);
  again.close();
  assertLog(reopen(dir), 1, 1001);
});

test('an append at an index <= last overwrites it and everything after it', (t) => {
  const dir = tempDir(t);
  const wal = Wal.open(dir, TEST_OPTS);
  wal.append(entries(1, 10, 1));
  wal.append(entries(6, 8, 2), { term: 2, vote: 0n, commit: 5 });
  assert.equal(wal.lastIndex, 8);
  wal.append(entries(9, 9, 2));
  wal.append(entries(9, 12, 3));
  wal.close();
  const again = reopen(dir);
  assertLog(again, 1, 12, (i) => (i <= 5 ? 1 : i <= 8 ? 2 : 3));
  assert.throws(() => again.append([entry(14, 3)]), /gap/);
});

test('segments are cut at segmentSizeBytes and read back across segments', (t) => {
  const dir = tempDir(t);
  const wal = Wal.open(dir, SMALL);
  for (let i = 1; i <= 600; i += 3) {
    wal.append(entries(i, i + 2), { term: 1, vote: 0n, commit: i - 1 });
    wal.sync();
  }
  // An overwrite after several cuts lands in the tail segment and must still win.
  wal.append(entries(590, 600, 2));
  wal.close();
  const names = fs.readdirSync(dir).sort();
  assert.ok(names.length >= 10, `${names.length} segments`);
  assert.ok(names.every((n) => /^[0-9a-f]{16}-[0-9a-f]{16}\.wal$/.test(n)));
  assert.equal(names[0], '0000000000000000-0000000000000001.wal');
  const again = reopen(dir, SMALL);
  assert.equal(again.segmentCount, names.length);
  assertLog(again, 1, 600, (i) => (i < 590 ? 1 : 2));
  assert.equal(again.readAll().hardState.commit, 597);
});

test('releaseTo removes only segments fully covered by a synced snapshot marker', (t) => {
  const dir = tempDir(t);
  const wal = Wal.open(dir, SMALL);
  for (let i = 1; i <= 400; i += 4) { wal.append(entries(i, i + 3)); wal.sync(); }
  const before = wal.segmentNames();
  const snap = { index: 200, term: 1, confState: { voters: [1n], learners: [] } };
  wal.saveSnapshot(snap);
  assert.throws(() => wal.releaseTo(200), /no synced snapshot marker/);
  wal.sync();
  const removed = wal.releaseTo(200);
  assert.ok(removed.length > 0 && removed.length < before.length);
  assert.deepEqual(removed, before.slice(0, removed.length));
  // Every removed segment's live entries are <= 200; the first kept one holds 200 or the next one.
  const firstKept = wal.segmentNames()[0]!;
  assert.ok(parseInt(firstKept.slice(17, 33), 16) <= 201, firstKept);
  const kept = before.slice(removed.length).map((n) => parseInt(n.slice(17, 33), 16));
  assert.ok(kept[1] === undefined || kept[1] - 1 > 200, 'the first kept segment was not fully covered');
  wal.append(entries(401, 420));
  wal.close();
  const again = reopen(dir, SMALL);
  assert.deepEqual(again.readAll().snapshot, snap);
  assertLog(again, 201, 420);
  assert.deepEqual(again.releaseTo(0), []);
});

test('a follower snapshot past the log discards the old log; entries resume after it', (t) => {
  const dir = tempDir(t);
  const wal = Wal.open(dir, SMALL);
  wal.append(entries(1, 50));
  wal.saveSnapshot({ index: 1000, term: 5, confState: { voters: [1n, 2n, 3n], learners: [] } });
  assert.equal(wal.lastIndex, 1000);
  assert.throws(() => wal.append([entry(1000, 5)]), /at or below the snapshot/);
  wal.append(entries(1001, 1010, 5), { term: 5, vote: 0n, commit: 1000 });
  wal.close();
  const again = reopen(dir, SMALL);
  assertLog(again, 1001, 1010, () => 5);
  assert.equal(again.readAll().snapshot?.index, 1000);
});

test('member and cluster ids are kept in every segment and checked on open', (t) => {
  const dir = tempDir(t);
  const ids = { memberId: 0x8e9e05c52164694dn, clusterId: 0xcdf818194e3a8c32n };
  const wal = Wal.open(dir, { ...SMALL, ...ids });
  for (let i = 1; i <= 200; i++) { wal.append([entry(i)]); wal.sync(); }
  wal.close();
  const again = Wal.open(dir, SMALL);
  assert.equal(again.memberId, ids.memberId);
  assert.equal(again.clusterId, ids.clusterId);
  again.close();
  assert.throws(() => Wal.open(dir, { ...SMALL, memberId: 7n }), (e: unknown) => e instanceof WalError && e.code === 'WalMismatch');
});

test('failpoints fire in order, and a crash at beforeWrite loses only the unwritten batch', (t) => {
  const dir = tempDir(t);
  const seen: WalFailpoint[] = [];
  let crashAt: WalFailpoint | undefined;
  const failpoint = (name: WalFailpoint): void => {
    seen.push(name);
    if (name === crashAt) throw new Error(`crash at ${name}`);
  };
  const wal = Wal.open(dir, { ...SMALL, failpoint });
  wal.append([entry(1)]);
  wal.sync();
  assert.deepEqual(seen, ['beforeWrite', 'afterWrite', 'beforeSync', 'afterSync']);
  crashAt = 'beforeWrite';
  assert.throws(() => wal.append([entry(2)]), /crash at beforeWrite/);
  assertLog(reopen(dir, SMALL), 1, 1);
});

test('leftover .tmp segments from an interrupted cut are removed; a missing segment is corruption', (t) => {
  const dir = tempDir(t);
  const wal = Wal.open(dir, SMALL);
  for (let i = 1; i <= 300; i++) { wal.append([entry(i)]); wal.sync(); }
  wal.close();
  fs.writeFileSync(path.join(dir, '00000000000000ff-0000000000000001.wal.tmp'), 'half made');
  reopen(dir, SMALL).close();
  assert.ok(!fs.readdirSync(dir).some((n) => n.endsWith('.tmp')));
  const names = fs.readdirSync(dir).sort();
  fs.rmSync(path.join(dir, names[2]!));
  assert.throws(() => reopen(dir, SMALL), (e: unknown) => e instanceof WalError && /a segment is missing/.test(e.message) && e.message.includes(names[3]!));
});

test('contract asserts: closed WAL, hard state going back, non-contiguous batches', (t) => {
  const wal = Wal.open(tempDir(t), TEST_OPTS);
  wal.append([], { term: 3, vote: 1n, commit: 0 });
  assert.throws(() => wal.append([], { term: 2, vote: 1n, commit: 0 }), /term goes back/);
  assert.throws(() => wal.append([], { term: 3, vote: 2n, commit: 0 }), /vote/);
  assert.throws(() => wal.append([entry(1), entry(3)]), /contiguous/);
  wal.close();
  assert.throws(() => wal.append([entry(1)]), /closed/);
});
