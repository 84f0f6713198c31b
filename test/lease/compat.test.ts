// The same lease sequences against real etcd 3.4 and tetcd, answers compared after normalizing
// what legitimately differs: cluster/member ids and raft term in headers, the remaining TTL
// (a clock reading: only "positive" is compared), and the order of /lease/leases (etcd lists
// its lease map in random order). Lease ids are chosen by the client so they match. Skipped with
// the reason when etcd is not installed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { b64 } from '../helpers/kv-client.js';
import { etcdMissingReason, startEtcd, startTetcd, tetcdMissingReason } from '../helpers/servers.js';

interface Step {
  path: string;
  body: unknown;
}

const STEPS: Step[] = [
  { path: '/v3/lease/grant', body: { ID: 70, TTL: 60 } },
  { path: '/v3/lease/grant', body: { ID: '70', TTL: 60 } },
  { path: '/v3/lease/grant', body: { ID: '-70', TTL: '30' } },
  { path: '/v3/lease/grant', body: { ID: 80, TTL: 9000000001 } },
  { path: '/v3/lease/grant', body: { ID: 90, TTL: -5 } },
  { path: '/v3/lease/grant', body: { ID: 100, TTL: 9000000000 } },
  { path: '/v3/lease/grant', body: '{"ID":"x"}' },
  { path: '/v3/lease/grant', body: { ID: 110, TTL: '99999999999999999999' } },
  { path: '/v3/kv/put', body: { key: b64('a'), value: b64('1'), lease: 70 } },
  { path: '/v3/kv/put', body: { key: b64('b'), value: b64('1'), lease: '70' } },
  { path: '/v3/kv/put', body: { key: b64('c'), value: b64('1'), lease: 99 } },
  { path: '/v3/kv/put', body: { key: b64('a'), value: b64('2'), ignore_lease: true } },
  { path: '/v3/kv/put', body: { key: b64('z'), value: b64('2'), ignore_lease: true } },
  { path: '/v3/kv/put', body: { key: b64('a'), value: b64('2'), ignore_lease: true, lease: 70 } },
  { path: '/v3/lease/timetolive', body: { ID: 70, keys: true } },
  { path: '/v3/lease/timetolive', body: { ID: 70 } },
  { path: '/v3/lease/timetolive', body: { ID: 99, keys: true } },
  { path: '/v3/kv/lease/timetolive', body: {} },
  { path: '/v3/kv/txn', body: { success: [{ request_put: { key: b64('d'), value: b64('1'), lease: 99 } }] } },
  { path: '/v3/kv/txn', body: { compare: [{ key: b64('zz'), target: 'VERSION', result: 'GREATER', version: 5 }], success: [{ request_put: { key: b64('d'), value: b64('1'), lease: 99 } }] } },
  { path: '/v3/kv/txn', body: { success: [{ request_put: { key: b64('d'), value: b64('1'), lease: 70 } }] } },
  { path: '/v3/kv/put', body: { key: b64('a'), value: b64('3'), lease: -70 } },
  { path: '/v3/lease/timetolive', body: { ID: 70, keys: true } },
  { path: '/v3/lease/timetolive', body: { ID: -70, keys: true } },
  { path: '/v3/lease/keepalive', body: { ID: 70 } },
  { path: '/v3/lease/keepalive', body: { ID: 99 } },
  { path: '/v3/lease/keepalive', body: {} },
  { path: '/v3/lease/keepalive', body: '{"ID":"x"}' },
  { path: '/v3/lease/keepalive', body: '{"ID":70}{"ID":-70}{"ID":"x"}' },
  { path: '/v3/lease/leases', body: {} },
  { path: '/v3/kv/lease/leases', body: {} },
  { path: '/v3/lease/revoke', body: { ID: 100 } },
  { path: '/v3/lease/revoke', body: { ID: 0 } },
  { path: '/v3/kv/lease/revoke', body: { ID: 70 } },
  { path: '/v3/lease/revoke', body: { ID: 70 } },
  { path: '/v3beta/lease/revoke', body: { ID: -70 } },
  { path: '/v3/kv/range', body: { key: b64('a'), range_end: b64('zzz') } },
  { path: '/v3beta/lease/leases', body: {} },
];

/** Known differences, each exactly as observed, so that fixing one makes this test point at it. */
const KNOWN: Record<number, { etcd: number; tetcd: number }> = {};

/** Normalizes one answer (a JSON body, or several JSON lines for the keep-alive stream). */
function normalize(text: string, path: string): unknown {
  const values = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, any>);
  return values.map((v) => {
    const body = (v.result ?? v) as Record<string, any>;
    if (body.header !== undefined) body.header = { revision: body.header.revision };
    if (path.endsWith('/timetolive') && body.TTL !== undefined && body.TTL !== '-1') body.TTL = Number(body.TTL) > 0 ? 'positive' : body.TTL;
    // etcd keeps a lease's keys in a Go map: their order in timetolive is not part of its answer.
    if (Array.isArray(body.keys)) body.keys = [...(body.keys as string[])].sort();
    if (Array.isArray(body.leases)) body.leases = (body.leases as Array<{ ID: string }>).map((l) => l.ID).sort();
    return v;
  });
}

async function run(url: string): Promise<Array<{ status: number; body: unknown }>> {
  const out: Array<{ status: number; body: unknown }> = [];
  for (const s of STEPS) {
    const res = await fetch(url + s.path, {
      method: 'POST', body: typeof s.body === 'string' ? s.body : JSON.stringify(s.body), signal: AbortSignal.timeout(10_000),
    });
    out.push({ status: res.status, body: normalize(await res.text(), s.path) });
  }
  return out;
}

test('lease API: tetcd answers as etcd 3.4', { skip: etcdMissingReason() ?? tetcdMissingReason(), timeout: 120_000 }, async (t) => {
  const [etcd, tetcd] = await Promise.all([startEtcd({ t, name: 'lease-compat' }), startTetcd({ t, name: 'lease-compat' })]);
  const [want, got] = [await run(etcd.url), await run(tetcd.url)];
  assert.equal(got.length, STEPS.length);
  for (let i = 0; i < STEPS.length; i++) {
    const what = `step ${i}: ${STEPS[i]!.path} ${JSON.stringify(STEPS[i]!.body)}`;
    const known = KNOWN[i];
    if (known !== undefined) {
      assert.deepEqual([want[i]!.status, got[i]!.status], [known.etcd, known.tetcd], `${what}: the known difference changed`);
      assert.deepEqual(got[i]!.body, want[i]!.body, what);
      continue;
    }
    assert.deepEqual(got[i], want[i], what);
  }
  // The probe's own sanity: the sequence exercised errors and the stream, not just successes.
  assert.ok(want.some((a) => a.status === 404) && want.some((a) => a.status === 500));
});
