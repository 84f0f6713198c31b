// Every scenario file loads and produces well-formed etcd JSON-gateway requests; the CAS
// bookkeeping follows etcd's answers; the mixed workload honours its read ratio.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keyOfSlot, xorshift32 } from '../scenario.js';
import type { ScenarioOptions } from '../scenario.js';
import { listScenarios, loadScenario } from '../scenario-loader.js';
import { revisionAfterCas } from '../scenarios/txn-cas.js';

const options: ScenarioOptions = { keyCount: 10, valueBytes: 5, readRatio: 0.5, params: {} };

test('every scenario loads and its requests are JSON for the v3 gateway', async () => {
  const names = listScenarios();
  for (const expected of ['ceiling', 'mixed', 'put', 'range', 'range-serializable', 'txn-cas', 'watch']) assert.ok(names.includes(expected), expected);
  for (const name of names) {
    const s = await loadScenario(name);
    assert.equal(s.name, name);
    const client = s.createClient({ clientIndex: 3, clientCount: 4, options });
    for (let i = 0; i < 50; i++) {
      const req = client.next();
      assert.match(req.path, /^\/v3\/kv\/(put|range|txn)$/, name);
      const body = JSON.parse(req.body ?? 'null') as Record<string, unknown>;
      if (name === 'watch') {
        assert.match(Buffer.from(String(body.key), 'base64').toString(), /^bench\/watch\/\d{8}$/, 'the writer puts fresh keys under the watched prefix');
      } else if (req.path !== '/v3/kv/txn') {
        const key = Buffer.from(String(body.key), 'base64').toString();
        assert.match(key, /^bench\/0000000\d$/, `${name}: key within the key space of 10`);
      }
      if (req.path === '/v3/kv/put') assert.equal(Buffer.from(String(body.value), 'base64').length, 5, `${name}: value size`);
    }
  }
  await assert.rejects(loadScenario('../run'), /unknown scenario/);
  await assert.rejects(loadScenario('nope'), /known: .*put/);
});

test('range-serializable asks for serializable reads, range does not', async () => {
  const ser = (await loadScenario('range-serializable')).createClient({ clientIndex: 0, clientCount: 1, options });
  const lin = (await loadScenario('range')).createClient({ clientIndex: 0, clientCount: 1, options });
  assert.equal((JSON.parse(ser.next().body ?? '') as { serializable?: boolean }).serializable, true);
  assert.equal((JSON.parse(lin.next().body ?? '') as { serializable?: boolean }).serializable, undefined);
});

test('mixed: read ratio 0 writes only, 1 reads only', async () => {
  const s = await loadScenario('mixed');
  for (const [readRatio, path] of [[0, '/v3/kv/put'], [1, '/v3/kv/range']] as const) {
    const c = s.createClient({ clientIndex: 1, clientCount: 2, options: { ...options, readRatio } });
    for (let i = 0; i < 100; i++) assert.equal(c.next().path, path);
  }
});

test('txn-cas: follows the revision on success and on conflict', async () => {
  assert.deepEqual(revisionAfterCas({ succeeded: true, header: { revision: '42' } }), { revision: 42, conflict: false });
  assert.deepEqual(revisionAfterCas({ header: { revision: '43' }, responses: [{ response_range: { kvs: [{ mod_revision: '40' }] } }] }), { revision: 40, conflict: true });
  assert.deepEqual(revisionAfterCas({ responses: [{ responseRange: {} }] }), { revision: 0, conflict: true });
  assert.throws(() => revisionAfterCas({ succeeded: true }), /header revision/);
  assert.throws(() => revisionAfterCas({}), /no range response/);
  const c = (await loadScenario('txn-cas')).createClient({ clientIndex: 0, clientCount: 1, options });
  const cmp = (): unknown => (JSON.parse(c.next().body ?? '') as { compare: Array<{ mod_revision: string }> }).compare[0]?.mod_revision;
  assert.equal(cmp(), '0');
  assert.equal(c.check?.(Buffer.from('{"responses":[{"response_range":{"kvs":[{"mod_revision":"7"}]}}]}')), 'cas-conflict');
  assert.equal(cmp(), '7');
  assert.equal(c.check?.(Buffer.from('{"succeeded":true,"header":{"revision":"8"}}')), undefined);
  assert.equal(cmp(), '8');
});

test('watch: a stream scenario whose clients write distinct keys in turn', async () => {
  const s = await loadScenario('watch');
  assert.equal(s.streams, 'watch-fanout');
  const keys = [0, 1].flatMap((clientIndex) => {
    const c = s.createClient({ clientIndex, clientCount: 2, options });
    return [c.next(), c.next()].map((r) => Buffer.from(String((JSON.parse(r.body ?? '') as { key: string }).key), 'base64').toString());
  });
  assert.deepEqual(keys, ['bench/watch/00000000', 'bench/watch/00000002', 'bench/watch/00000001', 'bench/watch/00000003']);
});

test('helpers: keys sort in slot order; the RNG is seeded', () => {
  assert.equal(keyOfSlot(7), 'bench/00000007');
  assert.ok(keyOfSlot(9) < keyOfSlot(10));
  const a = xorshift32(5);
  const b = xorshift32(5);
  for (let i = 0; i < 10; i++) assert.equal(a(), b());
});
