// Leases through a real tetcd process (started as a user starts it), over the JSON gateway:
// keep-alive streams holding keys past their TTL, expiry deleting them (with DELETE events on a
// watch) once keep-alives stop, revoke of more keys than one txn may hold, timetolive, listing,
// the WebSocket form with many leases on one socket, and every error etcd 3.4 answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GrpcCode, httpStatusOf } from '../../src/api/errors.js';
import { b64, post, unb64 } from '../helpers/kv-client.js';
import { startTetcd, tetcdMissingReason } from '../helpers/servers.js';
import { eventsOf, openHttpWatch, waitFor } from '../watch/client.js';
import { KEEPALIVE_INFLIGHT_PER_STREAM_MAX } from '../../src/gateway/routes/lease.js';
import { openHttpKeepAlive, openWsKeepAlive } from './client.js';

/** etcd's minimum TTL with the default timing (heartbeat 100 ms, election 1000 ms). */
const MIN_TTL_SEC = 2;
/** Bound on "gone after the TTL": the revoke period (500 ms) plus a raft round, with margin. */
const EXPIRY_DELAY_MS_MAX = 5_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function keysUnder(url: string, prefix: string): Promise<string[]> {
  const a = await post(url, '/v3/kv/range', { key: b64(prefix), range_end: b64(prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)) });
  assert.equal(a.status, 200);
  return ((a.body.kvs ?? []) as Array<{ key: string }>).map((kv) => unb64(kv.key));
}

async function ok(url: string, path: string, body: unknown): Promise<Record<string, any>> {
  const a = await post(url, path, body);
  assert.equal(a.status, 200, `${path} ${JSON.stringify(body)}: ${a.status} ${JSON.stringify(a.body)}`);
  return a.body;
}

async function fails(url: string, path: string, body: unknown, status: number, code: number, message: string): Promise<void> {
  const a = await post(url, path, body);
  assert.deepEqual({ status: a.status, body: a.body }, { status, body: { error: message, message, code } }, `${path} ${JSON.stringify(body)}`);
}

test('leases on a real member', { skip: tetcdMissingReason(), timeout: 120_000 }, async (t) => {
  const srv = await startTetcd({ t, name: 'lease' });
  const url = srv.url;

  await t.test('keep-alives hold keys past the TTL; once they stop, the keys go with DELETE events', async (t) => {
    const g = await ok(url, '/v3/lease/grant', { ID: 1001, TTL: MIN_TTL_SEC });
    assert.deepEqual([g.ID, g.TTL], ['1001', String(MIN_TTL_SEC)]);
    const watch = openHttpWatch(url, [{ create_request: { key: b64('svc/'), range_end: b64('svc0') } }]);
    t.after(() => watch.close());
    await waitFor('watch created', () => watch.responses.length > 0);
    await ok(url, '/v3/kv/put', { key: b64('svc/a'), value: b64('10.0.0.1'), lease: '1001' });
    await ok(url, '/v3/kv/put', { key: b64('svc/b'), value: b64('10.0.0.2'), lease: '1001' });
    const ka = openHttpKeepAlive(url);
    t.after(() => ka.close());
    // Renew every 500 ms for twice the TTL.
    for (let i = 0; i < 4 * MIN_TTL_SEC; i++) {
      ka.send(1001n);
      await sleep(500);
    }
    await waitFor('keep-alive answers', () => ka.answers.length === 4 * MIN_TTL_SEC);
    assert.equal(ka.status, 200);
    assert.ok(ka.answers.every((a) => a.result?.ID === '1001' && a.result.TTL === String(MIN_TTL_SEC)), JSON.stringify(ka.answers));
    assert.deepEqual(await keysUnder(url, 'svc/'), ['svc/a', 'svc/b'], 'kept alive past the TTL');
    ka.end();
    await waitFor('the keep-alive stream ends with its body', () => ka.ended);
    const deadline = Date.now() + MIN_TTL_SEC * 1000 + EXPIRY_DELAY_MS_MAX;
    while ((await keysUnder(url, 'svc/')).length > 0) {
      assert.ok(Date.now() < deadline, 'keys still there after TTL + delay');
      await sleep(100);
    }
    await waitFor('DELETE events', () => eventsOf(watch.responses).filter((e) => e.type === 'DELETE').length === 2);
    const dels = eventsOf(watch.responses).filter((e) => e.type === 'DELETE');
    assert.deepEqual(dels.map((e) => unb64(e.kv.key)), ['svc/a', 'svc/b']);
    assert.equal(dels[0]!.kv.mod_revision, dels[1]!.kv.mod_revision, 'one revision');
    const ttl = await ok(url, '/v3/lease/timetolive', { ID: 1001 });
    assert.equal(ttl.TTL, '-1');
  });

  await t.test('revoke deletes more keys than one txn may hold, in one revision', async (t) => {
    await ok(url, '/v3/lease/grant', { ID: 2002, TTL: 600 });
    const n = 300;
    for (let from = 0; from < n; from += 100) {
      const success = Array.from({ length: 100 }, (_, i) => ({ request_put: { key: b64(`many/${String(from + i).padStart(3, '0')}`), value: b64('v'), lease: '2002' } }));
      await ok(url, '/v3/kv/txn', { success });
    }
    const ttl = await ok(url, '/v3/lease/timetolive', { ID: 2002, keys: true });
    assert.equal(ttl.keys.length, n);
    assert.equal(unb64(ttl.keys[0]), 'many/000');
    assert.equal(ttl.grantedTTL, '600');
    const watch = openHttpWatch(url, [{ create_request: { key: b64('many/'), range_end: b64('many0') } }]);
    t.after(() => watch.close());
    await waitFor('watch created', () => watch.responses.length > 0);
    const before = Number((await ok(url, '/v3/kv/range', { key: b64('x') })).header.revision);
    const r = await ok(url, '/v3/lease/revoke', { ID: 2002 });
    assert.equal(Number(r.header.revision), before + 1);
    assert.deepEqual(await keysUnder(url, 'many/'), []);
    await waitFor('DELETE events', () => eventsOf(watch.responses).length === n);
    assert.ok(eventsOf(watch.responses).every((e) => e.type === 'DELETE' && Number(e.kv.mod_revision) === before + 1));
  });

  await t.test('timetolive, leases, attach moves keys, ignore_lease, the kv aliases', async () => {
    await ok(url, '/v3/lease/grant', { ID: 3003, TTL: 60 });
    await ok(url, '/v3/lease/grant', { ID: -3004, TTL: 60 });
    await ok(url, '/v3/kv/put', { key: b64('m/a'), value: b64('1'), lease: 3003 });
    await ok(url, '/v3/kv/put', { key: b64('m/a'), value: b64('2'), lease: -3004 });
    await ok(url, '/v3/kv/put', { key: b64('m/a'), value: b64('3'), ignore_lease: true });
    const a = await ok(url, '/v3/lease/timetolive', { ID: 3003, keys: true });
    assert.equal(a.keys, undefined, 'moved off its first lease');
    const b = await ok(url, '/v3/kv/lease/timetolive', { ID: -3004, keys: true });
    assert.deepEqual(b.keys.map(unb64), ['m/a']);
    assert.ok(Number(b.TTL) > 0 && Number(b.TTL) <= 60);
    const list = await ok(url, '/v3/kv/lease/leases', {});
    const ids = (list.leases as Array<{ ID: string }>).map((l) => l.ID);
    assert.ok(ids.includes('3003') && ids.includes('-3004'), JSON.stringify(ids));
    assert.ok(!ids.includes('2002') && !ids.includes('1001'));
    await ok(url, '/v3/kv/lease/revoke', { ID: 3003 });
    await ok(url, '/v3/lease/revoke', { ID: -3004 });
    assert.deepEqual(await keysUnder(url, 'm/'), []);
  });

  await t.test('errors, as etcd 3.4 answers them', async () => {
    await ok(url, '/v3/lease/grant', { ID: 4004, TTL: 60 });
    // etcd 3.4 answers FailedPrecondition with 412; the errors table decides ours (see compat.test.ts).
    await fails(url, '/v3/lease/grant', { ID: 4004, TTL: 60 }, httpStatusOf(GrpcCode.FailedPrecondition), 9, 'etcdserver: lease already exists');
    await fails(url, '/v3/lease/grant', { ID: 4005, TTL: 9000000001 }, 400, 11, 'etcdserver: too large lease TTL');
    await fails(url, '/v3/lease/grant', { ID: 4005, TTL: '99999999999999999999' }, 400, 3, 'json: cannot unmarshal number 99999999999999999999 into Go value of type int64');
    await fails(url, '/v3/lease/grant', '{"ID":"x"}', 400, 3, "invalid character 'x' looking for beginning of value");
    await fails(url, '/v3/lease/revoke', { ID: 4444 }, 404, 5, 'etcdserver: requested lease not found');
    await fails(url, '/v3/lease/revoke', {}, 404, 5, 'etcdserver: requested lease not found');
    await fails(url, '/v3/kv/put', { key: b64('e'), value: b64('1'), lease: 4444 }, 404, 5, 'etcdserver: requested lease not found');
    await fails(url, '/v3/kv/txn', { success: [{ request_put: { key: b64('e'), value: b64('1'), lease: 4444 } }] }, 404, 5,
      'etcdserver: requested lease not found');
    await fails(url, '/v3/kv/put', { key: b64('e'), value: b64('1'), lease: 4004, ignore_lease: true }, 400, 3, 'etcdserver: lease is provided');
    await fails(url, '/v3/kv/put', { key: b64('nope'), value: b64('1'), ignore_lease: true }, 400, 3, 'etcdserver: key not found');
    const g = await ok(url, '/v3/lease/grant', { TTL: -5 });
    assert.ok(BigInt(g.ID) > 0n, 'a server-chosen id is positive');
    assert.equal(g.TTL, String(MIN_TTL_SEC), 'raised to the minimum TTL');
    const t2 = await ok(url, '/v3/lease/timetolive', { ID: 4444, keys: true });
    assert.deepEqual([t2.ID, t2.TTL, t2.grantedTTL, t2.keys], ['4444', '-1', undefined, undefined]);
  });

  await t.test('keep-alive stream: unknown lease TTL 0, ends with its body, bad requests', async () => {
    const ka = openHttpKeepAlive(url);
    ka.send(4004n);
    ka.send(4444n);
    ka.send(0n);
    ka.end();
    await waitFor('stream end', () => ka.ended);
    assert.deepEqual(ka.answers.map((a) => [a.result?.ID, a.result?.TTL]), [['4004', '60'], ['4444', undefined], [undefined, undefined]]);
    const bad = await post(url, '/v3/lease/keepalive', '{"ID":"x"}');
    const m = "invalid character 'x' looking for beginning of value";
    assert.deepEqual(bad, { status: 500, body: { error: m, message: m, code: 2 } });
    const empty = await post(url, '/v3/lease/keepalive', '');
    assert.deepEqual(empty, { status: 200, body: { raw: '' } });
  });

  await t.test('WebSocket: many leases kept alive on one socket', async (t) => {
    const n = 50;
    for (let i = 0; i < n; i++) await ok(url, '/v3/lease/grant', { ID: 5000 + i, TTL: 30 + i });
    const ws = openWsKeepAlive(url);
    t.after(() => ws.close());
    for (let round = 0; round < 3; round++) for (let i = 0; i < n; i++) ws.send(BigInt(5000 + i));
    ws.send(59999n);
    await waitFor('answers', () => ws.answers.length === 3 * n + 1);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < n; i++) assert.deepEqual([ws.answers[round * n + i]!.result?.ID, ws.answers[round * n + i]!.result?.TTL], [String(5000 + i), String(30 + i)]);
    }
    assert.deepEqual([ws.answers[3 * n]!.result?.ID, ws.answers[3 * n]!.result?.TTL], ['59999', undefined]);
  });

  // Pausing a socket does not stop what was already read: a burst far past the in-flight bound
  // (one WebSocket's buffered frames, one POST body) once overran it and crashed the member.
  await t.test('a burst of keep-alives far past the in-flight bound is answered in order, on both forms', async (t) => {
    await ok(url, '/v3/lease/grant', { ID: 6000, TTL: 40 });
    const burst = 3 * KEEPALIVE_INFLIGHT_PER_STREAM_MAX + 7;
    const ws = openWsKeepAlive(url);
    t.after(() => ws.close());
    const http = openHttpKeepAlive(url);
    for (let i = 0; i < burst; i++) {
      ws.send(6000n);
      http.send(6000n);
    }
    http.end();
    await waitFor('WebSocket answers', () => ws.answers.length === burst);
    await waitFor('HTTP stream end', () => http.ended);
    for (const answers of [ws.answers, http.answers]) {
      assert.equal(answers.length, burst);
      assert.ok(answers.every((a) => a.result?.ID === '6000' && a.result.TTL === '40'));
    }
    assert.equal((await fetch(`${url}/health`)).status, 200, 'the member is still up');
  });
});
