// The same watch sequences against real etcd 3.4 and tetcd, compared after normalization: ids
// and terms out of headers, answers grouped per watch id (the order between different watches is
// not specified), consecutive event answers of one watch merged (how events are batched into
// answers is not specified either; their order and content are). Covers the created answer, a
// start in the past, prev_kv, filters, a future start, duplicate ids, cancel (known and unknown
// ids), progress requests, delete events, a compacted start, and a bad first request, over the
// POST stream and the WebSocket form.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { b64, post } from '../helpers/kv-client.js';
import { etcdMissingReason, startEtcd, startTetcd } from '../helpers/servers.js';
import type { ServerHandle } from '../helpers/servers.js';
import { openHttpWatch, openWsWatch, waitFor } from './client.js';
import type { JsonWatchResponse, WatchConn } from './client.js';

/** After the expected number of answers, wait this long for any unexpected extra one. */
const SETTLE_MS = 300;

function normalize(responses: readonly JsonWatchResponse[]): Record<string, string[]> {
  const byId: Record<string, string[]> = {};
  for (const r of responses) {
    const id = r.watch_id ?? '0';
    const list = (byId[id] ??= []);
    const { header, events, watch_id: _id, ...rest } = r;
    const control = JSON.stringify({ rev: header.revision, ...rest });
    if (events !== undefined && Object.keys(rest).length === 0) {
      const last = list[list.length - 1];
      const text = JSON.stringify(events);
      if (last?.startsWith('events ')) list[list.length - 1] = `${last.slice(0, -1)},${text.slice(1)}`;
      else list.push(`events ${text}`);
    } else {
      list.push(control + (events ? JSON.stringify(events) : ''));
    }
  }
  return byId;
}

async function scenario(url: string, ws: boolean): Promise<{ main: Record<string, string[]>; compacted: Record<string, string[]>; bad: unknown[] }> {
  const open = (reqs: unknown[]): WatchConn => (ws ? openWsWatch : openHttpWatch)(url, reqs);
  for (let i = 0; i < 3; i++) await post(url, '/v3/kv/put', { key: b64('foo'), value: b64(`v${i}`) });
  await post(url, '/v3/kv/put', { key: b64('a'), value: b64('1') });
  await post(url, '/v3/kv/deleterange', { key: b64('foo') }); // rev 6
  const conn = open([
    { create_request: { key: b64('foo'), start_revision: '2', prev_kv: true, watch_id: '1' } },
    { create_request: { key: b64('a'), range_end: b64('c'), filters: ['NOPUT'], watch_id: '2' } },
    { create_request: { key: b64('foo'), start_revision: '9', watch_id: '3' } },
    { create_request: { key: b64('foo'), watch_id: '1' } },
    { create_request: { key: b64('b') } },
    { progress_request: {} },
    { cancel_request: { watch_id: '99' } },
  ]);
  await waitFor('created answers', () => conn.responses.length >= 6);
  for (let i = 0; i < 4; i++) await post(url, '/v3/kv/put', { key: b64('foo'), value: b64(`w${i}`) }); // 7..10
  await post(url, '/v3/kv/deleterange', { key: b64('a'), range_end: b64('c') }); // 11
  await waitFor('events', () => conn.responses.filter((r) => r.watch_id === '3').length >= 2 && conn.responses.some((r) => r.watch_id === '2' && r.events));
  if (ws) {
    conn.send({ cancel_request: { watch_id: '2' } });
    await waitFor('cancel', () => conn.responses.some((r) => r.canceled && r.watch_id === '2'));
  }
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  conn.close();

  await post(url, '/v3/kv/compaction', { revision: '5' });
  const c = open([{ create_request: { key: b64('foo'), start_revision: '3' } }]);
  await waitFor('compacted cancel', () => c.responses.some((r) => r.canceled));
  c.close();
  const bad = open([{ create_request: { key: 1 } }]);
  await waitFor('error answer', () => bad.errors.length > 0 || bad.closed);
  await waitFor('error answer', () => bad.errors.length > 0, 2000).catch(() => undefined);
  bad.close();
  return { main: normalize(conn.responses), compacted: normalize(c.responses), bad: bad.errors };
}

for (const ws of [false, true]) {
  test(`watch sequences match etcd (${ws ? 'WebSocket' : 'POST stream'})`, { skip: etcdMissingReason(), timeout: 60_000 }, async (t) => {
    const servers: ServerHandle[] = await Promise.all([startEtcd({ t }), startTetcd({ t })]);
    const [etcd, tetcd] = await Promise.all(servers.map((s) => scenario(s.url, ws))) as [Awaited<ReturnType<typeof scenario>>, Awaited<ReturnType<typeof scenario>>];
    // The sequence is not vacuous: etcd itself answered all of it.
    assert.ok(Object.keys(etcd.main).length >= 4 && etcd.main['1']!.length >= 2, JSON.stringify(etcd.main));
    assert.equal(etcd.bad.length, 1);
    assert.ok(etcd.compacted['0']!.some((x) => x.includes('compact_revision')));
    assert.deepEqual(tetcd, etcd);
  });
}
