// Replays every scenario of scenarios.ts on a fresh store and requires exactly the answers a
// real etcd 3.4.23 gave (recorded in fixtures/ by perf/record-etcd.ts): revisions, versions,
// kvs, counts, `more`, error codes and messages, step by step.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MemoryBackend } from '../../src/mvcc/memory-backend.js';
import { RocksDbBackend } from '../../src/mvcc/rocksdb-backend.js';
import { MvccStore } from '../../src/mvcc/store.js';
import { answer, type Answer } from './replay.js';
import { scenarios } from './scenarios.js';

const fixture = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'fixtures', 'etcd-3.4-transcripts.json'), 'utf8')) as Record<string, Answer[]>;

async function replay(store: MvccStore, name: string): Promise<void> {
  const s = scenarios.find((x) => x.name === name)!;
  const expected = fixture[name];
  assert.ok(expected !== undefined && expected.length === s.steps.length, `fixture out of date for "${name}": re-record it`);
  for (const [i, step] of s.steps.entries()) {
    assert.deepEqual(await answer(store, step), expected[i], `${name}: step ${i} ${JSON.stringify(Object.keys(step))}`);
  }
}

describe('store answers as etcd 3.4 did (MemoryBackend)', () => {
  for (const s of scenarios) {
    it(s.name, async () => { await replay(await MvccStore.open(new MemoryBackend()), s.name); });
  }
});

describe('store answers as etcd 3.4 did (RocksDB)', () => {
  for (const name of ['compaction', 'put and delete: versions, generations, prev_kv, ignore flags, leases']) {
    it(name, async (t) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvcc-transcript-'));
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      const backend = await RocksDbBackend.open(dir);
      const store = await MvccStore.open(backend);
      await replay(store, name);
      await store.drain();
      await backend.close();
    });
  }
});
