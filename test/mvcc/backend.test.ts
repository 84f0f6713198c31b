// Both backends keep the Backend contract: atomic batches, point reads, ordered iteration in
// byte order over a snapshot, a size estimate, and (RocksDB) data that survives a reopen.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Backend } from '../../src/mvcc/backend.js';
import { MemoryBackend } from '../../src/mvcc/memory-backend.js';
import { RocksDbBackend } from '../../src/mvcc/rocksdb-backend.js';

const u = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

async function collect(it: AsyncIterable<[Uint8Array, Uint8Array]>): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of it) out.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
  return out;
}

async function contract(backend: Backend): Promise<void> {
  await backend.write([
    { type: 'put', key: u(2), value: u(20) }, { type: 'put', key: u(1, 0xff), value: u(11) },
    { type: 'put', key: u(1), value: u(10) }, { type: 'put', key: u(0x80), value: u(80) }, { type: 'put', key: u(3), value: u(30) },
  ], { sync: false });
  assert.deepEqual([...(await backend.get(u(1)))!], [10]);
  assert.equal(await backend.get(u(9)), undefined);
  assert.deepEqual((await backend.getMany([u(3), u(9), u(2)])).map((v) => v && [...v]), [[30], undefined, [20]]);
  assert.deepEqual(await collect(backend.iterate({ gte: u(1), lt: u(0x80) })), ['01=0a', '01ff=0b', '02=14', '03=1e']);
  // Snapshot: a write that completes while iterating does not show.
  const seen: string[] = [];
  for await (const [k] of backend.iterate({ gte: u(0), lt: u(0xff) })) {
    if (seen.length === 0) await backend.write([{ type: 'del', key: u(3) }, { type: 'put', key: u(4), value: u(4) }], { sync: true });
    seen.push(Buffer.from(k).toString('hex'));
  }
  assert.deepEqual(seen, ['01', '01ff', '02', '03', '80']);
  assert.deepEqual(await collect(backend.iterate({ gte: u(3), lt: u(5) })), ['04=04']);
  // Breaking out early is fine.
  for await (const _ of backend.iterate({ gte: u(0), lt: u(0xff) })) break;
  assert.ok(backend.approximateSizeBytes() >= 0);
}

describe('backends', () => {
  it('MemoryBackend keeps the contract', async () => {
    const m = new MemoryBackend();
    await contract(m);
    assert.ok(m.approximateSizeBytes() > 0);
  });

  it('RocksDbBackend keeps the contract and its data across a reopen', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvcc-rocks-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const db = await RocksDbBackend.open(dir);
    await contract(db);
    await db.close();
    const again = await RocksDbBackend.open(dir);
    assert.deepEqual(await collect(again.iterate({ gte: u(0), lt: u(0xff) })), ['01=0a', '01ff=0b', '02=14', '04=04', '80=50']);
    await again.close();
  });
});
