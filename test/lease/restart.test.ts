// Leases survive a restart of the member (clean stop and SIGKILL): the leases, their granted
// TTLs and the keys attached to them are all back, and a lease is not expired early: its clock
// restarts from the full TTL when the member leads again, so a lease whose original deadline
// passed while the member was down is still there, and only expires a full TTL later.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { b64, post, unb64 } from '../helpers/kv-client.js';
import { startTetcd, tetcdMissingReason } from '../helpers/servers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Short enough that its original deadline passes during the restart. */
const SHORT_TTL_SEC = 3;
/** Bound on "gone after the TTL" once the member leads again (revoke period, raft, margin). */
const EXPIRY_DELAY_MS_MAX = 6_000;

async function ok(url: string, path: string, body: unknown): Promise<Record<string, any>> {
  const a = await post(url, path, body);
  assert.equal(a.status, 200, `${path}: ${a.status} ${JSON.stringify(a.body)}`);
  return a.body;
}

async function exists(url: string, key: string): Promise<boolean> {
  return (await ok(url, '/v3/kv/range', { key: b64(key) })).kvs !== undefined;
}

for (const how of ['SIGTERM', 'SIGKILL'] as const) {
  test(`leases and attachments survive a restart (${how}), and no lease expires early`, { skip: tetcdMissingReason(), timeout: 120_000 }, async (t) => {
    const first = await startTetcd({ t, name: 'lease-restart' });
    await ok(first.url, '/v3/lease/grant', { ID: 11, TTL: SHORT_TTL_SEC });
    await ok(first.url, '/v3/lease/grant', { ID: 12, TTL: 600 });
    await ok(first.url, '/v3/kv/put', { key: b64('r/short'), value: b64('1'), lease: 11 });
    await ok(first.url, '/v3/kv/put', { key: b64('r/long1'), value: b64('1'), lease: 12 });
    await ok(first.url, '/v3/kv/put', { key: b64('r/long2'), value: b64('1'), lease: 12 });
    await ok(first.url, '/v3/kv/put', { key: b64('r/plain'), value: b64('1') });
    const grantedAtMs = Date.now();
    if (how === 'SIGKILL') await first.kill('SIGKILL');
    else await first.kill('SIGTERM');
    // Stay down until the short lease's original deadline has passed.
    const downUntil = grantedAtMs + SHORT_TTL_SEC * 1000 + 500;
    if (Date.now() < downUntil) await sleep(downUntil - Date.now());

    const second = await startTetcd({ t, name: 'lease-restart', dataDir: first.dataDir, clientPort: first.clientPort, peerPort: first.peerPort });
    const restartedAtMs = Date.now();
    const list = await ok(second.url, '/v3/lease/leases', {});
    assert.deepEqual((list.leases as Array<{ ID: string }>).map((l) => l.ID).sort(), ['11', '12']);
    const long = await ok(second.url, '/v3/lease/timetolive', { ID: 12, keys: true });
    assert.deepEqual(long.keys.map(unb64), ['r/long1', 'r/long2']);
    assert.equal(long.grantedTTL, '600');
    const short = await ok(second.url, '/v3/lease/timetolive', { ID: 11, keys: true });
    assert.deepEqual(short.keys.map(unb64), ['r/short']);
    assert.ok(await exists(second.url, 'r/short'), 'not expired at its original deadline');
    // Keep-alives work again on the restarted leader.
    const ka = await post(second.url, '/v3/lease/keepalive', { ID: 12 });
    assert.equal(ka.body.result?.TTL, '600');
    // ... and the short lease does expire, a full TTL after the restart at the earliest.
    const deadline = restartedAtMs + SHORT_TTL_SEC * 1000 + EXPIRY_DELAY_MS_MAX;
    while (await exists(second.url, 'r/short')) {
      assert.ok(Date.now() < deadline, 'the short lease never expired after the restart');
      await sleep(100);
    }
    assert.ok(await exists(second.url, 'r/long1'));
    assert.ok(await exists(second.url, 'r/plain'));
    assert.equal((await ok(second.url, '/v3/lease/timetolive', { ID: 11 })).TTL, '-1');
  });
}
