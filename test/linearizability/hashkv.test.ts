// HashKV through real processes: two single-member tetcds fed the same writes (puts, overwrites,
// deletes, a txn, a physical compaction) report the same HashKV at every revision they both hold,
// also after one of them is killed with SIGKILL and restarted (replay from the WAL); one extra
// write on one member changes its current hash but not the hash at an earlier revision. The
// cluster tests compare members the same way.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { b64, post } from '../helpers/kv-client.js';
import { hashKvOf } from './hashkv.js';
import { startTetcd, tetcdMissingReason, type ServerHandle } from '../helpers/servers.js';

async function ok(url: string, path: string, body: unknown): Promise<void> {
  const a = await post(url, path, body);
  assert.equal(a.status, 200, `${path} on ${url}: ${JSON.stringify(a.body)}`);
}

/** The same writes, in the same order, on every member given. Ends at revision 14. */
async function feed(urls: string[]): Promise<void> {
  for (const url of urls) {
    for (let i = 0; i < 10; i++) await ok(url, '/v3/kv/put', { key: b64(`k${i % 4}`), value: b64(`v${i}`) });
    await ok(url, '/v3/kv/deleterange', { key: b64('k1') });
    await ok(url, '/v3/kv/txn', {
      compare: [{ key: b64('k2'), target: 'VALUE', result: 'EQUAL', value: b64('v6') }],
      success: [{ request_put: { key: b64('k9'), value: b64('txn') } }, { request_delete_range: { key: b64('k0') } }],
    });
    await ok(url, '/v3/kv/compaction', { revision: 6, physical: true });
    await ok(url, '/v3/kv/put', { key: b64('k3'), value: b64('last') });
  }
}

test('members fed the same writes report the same hashkv', { skip: tetcdMissingReason(), timeout: 120_000 }, async (t) => {
  const [a, b] = await Promise.all([startTetcd({ t, name: 'hash-a' }), startTetcd({ t, name: 'hash-b' })]);
  await feed([a.url, b.url]);
  const now = await Promise.all([hashKvOf(a.url), hashKvOf(b.url)]);
  assert.equal(now[0].revision, 14);
  assert.deepEqual(now[0], now[1]);
  assert.equal(now[0].compactRevision, 6);
  const at = async (s: ServerHandle, rev: number) => (await hashKvOf(s.url, rev)).hash;
  for (const rev of [7, 10, 13]) assert.equal(await at(a, rev), await at(b, rev), `hash at ${rev}`);
  assert.notEqual(await at(a, 10), await at(a, 14), 'the hash depends on the revision');

  const compacted = await post(a.url, '/v3/maintenance/hashkv', { revision: 6 });
  assert.equal(compacted.status, 400);
  assert.equal(compacted.body.message, 'etcdserver: mvcc: required revision has been compacted');
  const future = await post(a.url, '/v3/maintenance/hashkv', { revision: 15 });
  assert.equal(future.body.message, 'etcdserver: mvcc: required revision is a future revision');

  await a.kill('SIGKILL');
  const a2 = await startTetcd({ t, dataDir: a.dataDir, clientPort: a.clientPort, peerPort: a.peerPort, name: 'hash-a' });
  assert.deepEqual(await hashKvOf(a2.url), now[1], 'same hash after a restart (WAL replay)');

  await ok(b.url, '/v3/kv/put', { key: b64('only-b'), value: b64('x') });
  assert.notEqual((await hashKvOf(b.url)).hash, (await hashKvOf(a2.url)).hash, 'an extra write changes the hash');
  assert.equal(await at(b, 14), await at(a2, 14), 'but not the hash at an earlier revision');

  const hashes = await Promise.all([post(a2.url, '/v3/maintenance/hash', {}), post(b.url, '/v3/maintenance/hash', {})]);
  for (const h of hashes) assert.equal(typeof h.body.hash, 'number', JSON.stringify(h.body));
});
