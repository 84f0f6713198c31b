// Measures put applies per second (16-byte keys over 50k distinct keys, 128-byte values) on
// MemoryBackend and on RocksDB, committing every 1000 puts with the consistent index, the way
// the apply actor does. Not a test: `node --import tsx test/mvcc/perf/put-apply.ts [puts]`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Backend } from '../../../src/mvcc/backend.js';
import { MemoryBackend } from '../../../src/mvcc/memory-backend.js';
import { RocksDbBackend } from '../../../src/mvcc/rocksdb-backend.js';
import { MvccStore } from '../../../src/mvcc/store.js';

const puts = Number(process.argv[2] ?? 200_000);
const commitEvery = 1000;
const value = new Uint8Array(128).fill(120);
const keys = Array.from({ length: 50_000 }, (_, i) => new Uint8Array(Buffer.from(`key/${String(i).padStart(12, '0')}`)));

/** Awaits each commit before applying more (apply blocked on the backend). */
async function run(name: string, backend: Backend): Promise<void> {
  const store = await MvccStore.open(backend);
  const t0 = performance.now();
  let applyMs = 0;
  for (let i = 0; i < puts; i++) {
    const a = performance.now();
    store.put({ key: keys[i % keys.length]!, value });
    store.setConsistentIndex(i + 1, 1);
    applyMs += performance.now() - a;
    if ((i + 1) % commitEvery === 0) await store.commit();
  }
  await store.commit();
  const totalMs = performance.now() - t0;
  console.log(`${name}: ${Math.round(puts / (totalMs / 1000))} puts/s end to end (commit every ${commitEvery}), ` +
    `${Math.round(puts / (applyMs / 1000))} puts/s in apply alone, ${puts} puts`);
  await backend.close();
}

/** Applies on while one commit is in flight, as the apply actor does (group commit). */
async function runPipelined(name: string, backend: Backend): Promise<void> {
  const store = await MvccStore.open(backend);
  const t0 = performance.now();
  let inflight: Promise<void> | undefined;
  for (let i = 0; i < puts; i++) {
    store.put({ key: keys[i % keys.length]!, value });
    store.setConsistentIndex(i + 1, 1);
    if ((i + 1) % commitEvery === 0) {
      if (inflight !== undefined) await inflight;
      inflight = store.commit();
    }
  }
  await store.commit();
  const totalMs = performance.now() - t0;
  console.log(`${name}: ${Math.round(puts / (totalMs / 1000))} puts/s with one commit in flight while applying`);
  await backend.close();
}

await run('MemoryBackend', new MemoryBackend());
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvcc-bench-'));
try {
  await run('RocksDB', await RocksDbBackend.open(dir));
  fs.rmSync(dir, { recursive: true, force: true });
  await runPipelined('RocksDB', await RocksDbBackend.open(dir));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
