// MvccStore behaviour beyond the etcd transcripts: reads of records not yet written (the
// in-flight overlay), the consistent index written atomically with the data, restart rebuilding
// the same state (RocksDB), compaction removing records physically and finishing after an
// interrupted removal, change events, and the asserted invariants.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { RangeResponse } from '../../src/api/types.js';
import { MemoryBackend } from '../../src/mvcc/memory-backend.js';
import { KEY_BUCKET_GTE, KEY_BUCKET_LT, encodeMetaValue, metaKey, parseRevKey } from '../../src/mvcc/revision.js';
import { RocksDbBackend } from '../../src/mvcc/rocksdb-backend.js';
import { MvccStore, type MvccEvent } from '../../src/mvcc/store.js';
import { b, pe } from './scenarios.js';
import type { Backend } from '../../src/mvcc/backend.js';

const str = (u: Uint8Array): string => Buffer.from(u).toString('latin1');

async function recordRevs(backend: Backend): Promise<string[]> {
  const out: string[] = [];
  for await (const [k] of backend.iterate({ gte: KEY_BUCKET_GTE, lt: KEY_BUCKET_LT })) {
    const { rev, tombstone } = parseRevKey(k);
    out.push(`${rev.main}.${rev.sub}${tombstone ? 't' : ''}`);
  }
  return out;
}

async function tempRocks(t: TestContext): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvcc-store-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Everything observable of a store: revisions, every key at every revision. */
async function dump(store: MvccStore): Promise<unknown> {
  const revs: unknown[] = [];
  for (let rev = Math.max(store.compactRevision, 1); rev <= store.currentRevision; rev++) {
    const r = await store.range({ key: b('\0'), rangeEnd: b('\0'), revision: rev });
    revs.push(r.kvs.map((kv) => [str(kv.key), str(kv.value), kv.createRevision, kv.modRevision, kv.version, kv.lease]));
  }
  return { current: store.currentRevision, compact: store.compactRevision, index: store.consistentIndex, revs };
}

async function history(store: MvccStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    store.put({ key: b(`k${i % 7}`), value: b(`v${i}`) });
    if (i % 5 === 4) store.deleteRange({ key: b(`k${i % 3}`) });
    if (i % 11 === 10) store.txn({ compare: [], success: [{ requestPut: { key: b('t1'), value: b(`${i}`) } }, { requestDeleteRange: { key: b('k5') } }], failure: [] });
    store.setConsistentIndex(i + 1, 1);
    if (i % 4 === 3) await store.commit();
  }
  await store.commit();
}

describe('MvccStore', () => {
  it('reads past revisions whose batch is not written yet (overlay), and after it is', async () => {
    const backend = new MemoryBackend();
    const store = await MvccStore.open(backend);
    store.put({ key: b('a'), value: b('1') });
    store.put({ key: b('a'), value: b('2') });
    const before = store.range({ key: b('a'), revision: 2 });
    assert.ok(!(before instanceof Promise), 'staged records are served from memory');
    assert.equal(str(before.kvs[0]!.value), '1');
    const committing = store.commit();
    const during = await store.range({ key: b('a'), revision: 2 });
    assert.equal(str(during.kvs[0]!.value), '1');
    await committing;
    assert.equal(backend.writeCount, 1, 'one batch for the whole group');
    const after = store.range({ key: b('a'), revision: 2 });
    assert.ok(after instanceof Promise, 'a written past record is read from the backend');
    assert.equal(str((await after).kvs[0]!.value), '1');
    assert.equal(str((store.range({ key: b('a') }) as RangeResponse).kvs[0]!.value), '2');
  });

  it('a txn reading history answers asynchronously but applies its writes at once', async () => {
    const store = await MvccStore.open(new MemoryBackend());
    store.put({ key: b('a'), value: b('1') });
    store.put({ key: b('a'), value: b('2') });
    await store.commit();
    const r = store.txn({ compare: [], success: [{ requestRange: { key: b('a'), revision: 2 } }, { requestPut: { key: b('c'), value: b('x') } }], failure: [] });
    assert.ok(r instanceof Promise);
    assert.equal(store.currentRevision, 4, 'the write is applied before the read finishes');
    const resp = await r;
    assert.equal(resp.header.revision, 4);
    const first = resp.responses[0]!;
    assert.ok('responseRange' in first && str(first.responseRange.kvs[0]!.value) === '1');
  });

  it('writes the consistent index in the same batch as the data', async () => {
    const backend = new MemoryBackend();
    const store = await MvccStore.open(backend);
    store.put({ key: b('a'), value: b('1') });
    store.setConsistentIndex(7, 2);
    await store.commit();
    store.put({ key: b('b'), value: b('2') });
    store.setConsistentIndex(8, 2);
    backend.failWrites = new Error('disk full');
    await assert.rejects(store.commit(), /disk full/);
    assert.throws(() => store.put({ key: b('c'), value: b('3') }), /disk full/, 'a failed store refuses to go on');
    await store.drain().catch(() => undefined);
    const reopened = await MvccStore.open(backend.reopen());
    assert.equal(reopened.consistentIndex, 7);
    assert.equal(reopened.consistentIndexTerm, 2);
    assert.equal(reopened.currentRevision, 2, 'neither the data nor the index of the failed batch');
    assert.throws(() => reopened.setConsistentIndex(6, 2), /consistent index 6 < 7/);
  });

  it('restart rebuilds the same state from RocksDB', async (t) => {
    const dir = await tempRocks(t);
    let backend = await RocksDbBackend.open(dir);
    let store = await MvccStore.open(backend);
    await history(store, 60);
    const { done } = store.compact(30);
    await store.commit();
    await done;
    store.put({ key: b('after'), value: b('x') });
    store.setConsistentIndex(61, 3);
    await store.commit();
    const want = await dump(store);
    await store.drain();
    await backend.close();
    backend = await RocksDbBackend.open(dir);
    store = await MvccStore.open(backend);
    assert.deepEqual(await dump(store), want);
    assert.equal(store.consistentIndex, 61);
    assert.ok(store.dbSizeBytes() > 0);
    await backend.close();
  });

  it('compaction removes the records no read needs and keeps the rest readable', async () => {
    const backend = new MemoryBackend();
    const store = await MvccStore.open(backend);
    store.put({ key: b('a'), value: b('1') }); // 2
    store.put({ key: b('a'), value: b('2') }); // 3
    store.put({ key: b('b'), value: b('1') }); // 4
    store.deleteRange({ key: b('b') }); // 5
    store.put({ key: b('c'), value: b('1') }); // 6
    store.deleteRange({ key: b('c') }); // 7
    await store.commit();
    const want = await store.range({ key: b('\0'), rangeEnd: b('\0'), revision: 6 });
    const { done } = store.compact(6);
    assert.deepEqual(await recordRevs(backend), ['2.0', '3.0', '4.0', '5.0t', '6.0', '7.0t'], 'nothing removed before the commit');
    await store.commit();
    await done;
    // a: 3 is its latest <= 6; b: deleted at 5 (tombstone dropped); c: 6 kept, its later delete kept.
    assert.deepEqual(await recordRevs(backend), ['3.0', '6.0', '7.0t']);
    assert.deepEqual(await store.range({ key: b('\0'), rangeEnd: b('\0'), revision: 6 }), want);
    assert.throws(() => store.range({ key: b('a'), revision: 5 }), /compacted/);
    assert.equal(store.indexedKeyCount, 2, 'b is gone from the index');
    const reopened = await MvccStore.open(backend.reopen());
    assert.equal(reopened.compactRevision, 6);
    assert.equal(reopened.currentRevision, 7);
  });

  it('finishes an interrupted compaction on open', async () => {
    const backend = new MemoryBackend();
    const store = await MvccStore.open(backend);
    for (let i = 0; i < 10; i++) store.put({ key: b('k'), value: b(String(i)) });
    await store.commit();
    // The scheduled revision reached the backend, the removal never ran (a crash).
    await backend.write([{ type: 'put', key: metaKey('scheduledCompactRev'), value: encodeMetaValue(8) }], { sync: false });
    const reopened = await MvccStore.open(backend);
    assert.equal(reopened.compactRevision, 8);
    assert.deepEqual(await recordRevs(backend), ['8.0', '9.0', '10.0', '11.0']);
    assert.equal(str((await reopened.range({ key: b('k'), revision: 8 })).kvs[0]!.value), '6');
  });

  it('restores the current revision when compaction removed the newest records', async () => {
    const backend = new MemoryBackend();
    const store = await MvccStore.open(backend);
    store.put({ key: b('a'), value: b('1') });
    store.deleteRange({ key: b('a') });
    await store.commit();
    const { done } = store.compact(3);
    await store.commit();
    await done;
    assert.deepEqual(await recordRevs(backend), []);
    const reopened = await MvccStore.open(backend.reopen());
    assert.equal(reopened.currentRevision, 3);
    assert.equal(reopened.put({ key: b('a'), value: b('2') }).header.revision, 4);
  });

  it('reports every change of a write txn, once, with its revision', async () => {
    const seen: Array<[number, string[]]> = [];
    const onChanges = (events: readonly MvccEvent[], rev: number): void => {
      seen.push([rev, events.map((e) => `${e.type} ${str(e.kv.key)}@${e.kv.modRevision} prev=${e.prevKv ? str(e.prevKv.value) : '-'}`)]);
    };
    const store = await MvccStore.open(new MemoryBackend(), { onChanges });
    store.put({ key: b('a'), value: b('1') });
    store.deleteRange({ key: b('zz') });
    store.txn({ compare: [], success: [{ requestPut: { key: b('a'), value: b('2') } }, { requestPut: { key: b('b'), value: b('3') } }], failure: [] });
    store.deleteRange({ key: b('a'), rangeEnd: b('c') });
    assert.deepEqual(seen, [
      [2, ['PUT a@2 prev=-']],
      [3, ['PUT a@3 prev=1', 'PUT b@3 prev=-']],
      [4, ['DELETE a@4 prev=2', 'DELETE b@4 prev=3']],
    ]);
  });

  it('a lessor plugs in through leaseExists', async () => {
    const store = await MvccStore.open(new MemoryBackend(), { leaseExists: (id) => id === 7n });
    assert.throws(() => store.put({ key: b('a'), value: b('1'), lease: 8n }), /requested lease not found/);
    store.put({ key: b('a'), value: b('1'), lease: 7n });
    store.put({ key: b('a'), value: b('2'), ignoreLease: true });
    const kv = (store.range({ key: b('a') }) as RangeResponse).kvs[0]!;
    assert.equal(kv.lease, 7n);
    assert.equal(store.currentRevision, 3);
  });

  it('ranges over many keys with limit, at present and past revisions', async () => {
    const store = await MvccStore.open(new MemoryBackend());
    for (let i = 0; i < 300; i++) store.put({ key: b(`k/${String(i).padStart(3, '0')}`), value: b(String(i)) });
    await store.commit();
    for (let i = 0; i < 300; i += 2) store.put({ key: b(`k/${String(i).padStart(3, '0')}`), value: b('new') });
    const now = store.range({ key: b('k/'), rangeEnd: pe('k/'), limit: 10 }) as RangeResponse;
    assert.equal(now.count, 300);
    assert.equal(now.more, true);
    assert.deepEqual(now.kvs.map((kv) => str(kv.value)), ['new', '1', 'new', '3', 'new', '5', 'new', '7', 'new', '9']);
    const past = await store.range({ key: b('k/'), rangeEnd: pe('k/'), limit: 4, revision: 301 });
    assert.deepEqual(past.kvs.map((kv) => str(kv.value)), ['0', '1', '2', '3']);
    assert.equal(past.count, 300);
  });
});

describe('MvccStore.readEvents', () => {
  it('reads changes by revision, whole revisions at a time, from the flushed history', async () => {
    const store = await MvccStore.open(new MemoryBackend());
    store.put({ key: b('a'), value: b('1') }); // 2
    store.txn({ compare: [], success: [{ requestPut: { key: b('b'), value: b('2') } }, { requestPut: { key: b('c'), value: b('3') } }], failure: [] }); // 3
    store.deleteRange({ key: b('a'), rangeEnd: b('c') }); // 4
    store.put({ key: b('a'), value: b('4') }); // 5
    assert.equal(store.flushedRevision, 1);
    await store.commit();
    assert.equal(store.flushedRevision, 5);
    const show = (e: MvccEvent): string => `${e.type} ${str(e.kv.key)}@${e.kv.modRevision}`;
    const all = await store.readEvents(2, 5, 100);
    assert.deepEqual(all.events.map(show), ['PUT a@2', 'PUT b@3', 'PUT c@3', 'DELETE a@4', 'DELETE b@4', 'PUT a@5']);
    assert.equal(all.nextRev, 6);
    const first = await store.readEvents(2, 5, 2);
    assert.deepEqual(first.events.map(show), ['PUT a@2', 'PUT b@3', 'PUT c@3'], 'revision 3 is not split');
    assert.equal(first.nextRev, 4);
    const { done } = store.compact(4);
    await store.commit();
    await done;
    await assert.rejects(store.readEvents(3, 5, 10), /compacted/);
    assert.deepEqual((await store.readEvents(5, 5, 10)).events.map(show), ['PUT a@5']);
  });
});

describe('MvccStore.hashKV', () => {
  it('agrees between stores with the same history whatever their physical compaction state', async () => {
    const build = async (): Promise<[MvccStore, MemoryBackend]> => {
      const backend = new MemoryBackend();
      const store = await MvccStore.open(backend);
      await history(store, 30);
      return [store, backend];
    };
    const [a] = await build();
    const [b2, backendB] = await build();
    assert.deepEqual(await a.hashKV(0), await b2.hashKV(0));
    const h20 = await a.hashKV(20);
    assert.notEqual(h20.hash, (await a.hashKV(0)).hash);
    const { done } = a.compact(15);
    await a.commit();
    await done;
    // b has the compaction scheduled in its index but its records are not removed yet.
    b2.compact(15);
    assert.deepEqual(await a.hashKV(0), await b2.hashKV(0));
    assert.deepEqual(await a.hashKV(20), await b2.hashKV(20));
    await assert.rejects(a.hashKV(15), /compacted/);
    await assert.rejects(a.hashKV(1000), /future revision/);
    // A different history hashes differently.
    b2.put({ key: b('x'), value: b('y') });
    await b2.commit();
    assert.notEqual((await a.hashKV(0)).hash, (await b2.hashKV(0)).hash);
    await b2.close();
    assert.equal(backendB.writeCount > 0, true);
  });
});
