// In-process member + gateway + hub (so that the hub's counters can be read): 1000 watchers come
// and go over both stream forms and leave nothing behind; a client that stops reading gets its
// watcher moved to catch-up (counted) and, once it reads again, every event in order; the
// member's periodic progress notifications reach synced watchers that asked for them.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildGateway } from '../../src/gateway/app.js';
import { watchService } from '../../src/gateway/routes/watch.js';
import { createActorLogger } from '../../src/server/log.js';
import { Member } from '../../src/server/member.js';
import { computeClusterId, computeMemberId } from '../../src/server/member-init.js';
import { WatchHub } from '../../src/watch/hub.js';
import { b64, post } from '../helpers/kv-client.js';
import { eventsOf, openHttpWatch, openWsWatch, waitFor } from './client.js';
import type { WatchConn } from './client.js';

const WATCHERS_TOTAL = 1000;
const CONNS_AT_ONCE = 50;

async function startInProcess(t: { after(fn: () => Promise<void>): void }): Promise<{ url: string; hub: WatchHub }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tetcd-watch-'));
  const logger = createActorLogger('error', 'gateway', 'watch-test');
  const id = computeMemberId(['http://127.0.0.1:2380'], 'etcd-cluster');
  const member = await Member.start({
    name: 'watch-test', dataDir, memberId: id, clusterId: computeClusterId([id]), initialVoters: [id],
    heartbeatIntervalMs: 100, electionTimeoutMs: 1000, maxTxnOps: 128, maxRequestBytes: 1572864, fsync: 'none', logLevel: 'error', logger,
  });
  const hub = new WatchHub(member, { progressNotifyIntervalMs: 100 });
  await hub.ready;
  const app = buildGateway({ kv: member, health: () => member.health(), services: [watchService(hub)] });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  t.after(async () => {
    await app.close();
    hub.close();
    await member.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${addr.port}`;
  for (let i = 0; i < 100 && !(await member.health()); i++) await new Promise((r) => setTimeout(r, 50));
  return { url, hub };
}

test('watch hub: no leak, slow clients caught up, progress notify', { timeout: 60_000 }, async (t) => {
  const { url, hub } = await startInProcess(t);

  await t.test('1000 watchers come and go without a trace', async () => {
    let made = 0;
    while (made < WATCHERS_TOTAL) {
      const conns: WatchConn[] = [];
      for (let c = 0; c < CONNS_AT_ONCE && made < WATCHERS_TOTAL; c++) {
        const reqs = Array.from({ length: 4 }, (_, i) => ({ create_request: { key: b64(`k${i}`), range_end: i % 2 ? b64('l') : undefined } }));
        conns.push((c % 2 ? openWsWatch : openHttpWatch)(url, reqs));
        made += reqs.length;
      }
      await waitFor('created answers', () => conns.every((c) => c.responses.length >= 4));
      assert.ok(hub.stats().watchers >= conns.length * 4);
      for (const c of conns) c.close();
    }
    await waitFor('every stream freed', () => hub.stats().streams === 0 && hub.stats().watchers === 0);
    const s = hub.stats();
    assert.deepEqual([s.synced, s.unsynced, s.indexNodes], [0, 0, 0]);
  });

  await t.test('a client that stops reading is moved to catch-up and then gets every event', async () => {
    const slow = openWsWatch(url, [{ create_request: { key: b64('s/'), range_end: b64('s0') } }]);
    const fast = openHttpWatch(url, [{ create_request: { key: b64('s/'), range_end: b64('s0') } }]);
    await waitFor('created', () => slow.responses.length > 0 && fast.responses.length > 0);
    slow.pause();
    const value = b64('x'.repeat(64 * 1024));
    const revs: number[] = [];
    for (let i = 0; i < 200 && hub.stats().slowWatcherMoves === 0; i++) {
      const a = await post(url, '/v3/kv/put', { key: b64(`s/${i % 7}`), value });
      revs.push(Number(a.body.header.revision));
    }
    assert.ok(hub.stats().slowWatcherMoves > 0, 'the stalled client was moved aside');
    await waitFor('fast stream up to date', () => eventsOf(fast.responses).length === revs.length);
    slow.resume();
    await waitFor('slow stream caught up', () => eventsOf(slow.responses).length >= revs.length);
    assert.deepEqual(eventsOf(slow.responses).map((e) => Number(e.kv.mod_revision)), revs);
    await waitFor('back in sync', () => hub.stats().unsynced === 0);
    slow.close();
    fast.close();
  });

  await t.test('progress notifications reach a synced watcher that asked for them', async () => {
    const c = openHttpWatch(url, [{ create_request: { key: b64('p'), progress_notify: true } }]);
    await waitFor('a progress notification', () => c.responses.some((r) => !r.created && (r.events ?? []).length === 0));
    const n = c.responses.find((r) => !r.created)!;
    assert.equal(n.watch_id, undefined);
    assert.ok(Number(n.header.revision) >= 1);
    c.close();
  });
});
