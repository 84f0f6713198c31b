// The watch fan-out bench's own logic: keys and the shared table, the HTTP stream decoder and the
// message scanner (on etcd's exact output), the ledger's duplicate/reorder/missed/undelivered
// accounting, the flags, and the worker task end to end against a fake watch server (HTTP
// streams and WebSocket) that drops, repeats and withholds events on purpose; then the whole
// `watch` run against a fresh tetcd, bounded, without writing result files.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { connectionSizes, FanoutShared, nowMs, Phase, seqOfKeyB64, WATCH_PREFIX, watchCreateJson, watchKeyOfSeq, WatcherLedger } from '../fanout.js';
import { ledgerBytes, seqCapacity, writerInflightMax } from '../fanout-runner.js';
import runFanout from '../fanout-worker.js';
import { fanoutParams, parseOptions, UsageError } from '../options.js';
import type { FanoutResult } from '../protocol.js';
import { REPO_ROOT } from '../servers.js';
import { HttpStreamDecoder, scanWatchMessage } from '../watch-stream.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('keys carry the sequence number; the create request watches the whole prefix', () => {
  assert.equal(watchKeyOfSeq(42), 'bench/watch/00000042');
  for (const seq of [0, 1, 7, 123_456, 99_999_999]) assert.equal(seqOfKeyB64(b64(watchKeyOfSeq(seq))), seq);
  assert.equal(seqOfKeyB64(b64('bench/00000001')), -1);
  assert.equal(seqOfKeyB64(b64(`${WATCH_PREFIX}abc`)), -1);
  assert.throws(() => watchKeyOfSeq(1e8), /out of range/);
  const create = (JSON.parse(watchCreateJson()) as { create_request: { key: string; range_end: string } }).create_request;
  assert.equal(Buffer.from(create.key, 'base64').toString(), 'bench/watch/');
  assert.equal(Buffer.from(create.range_end, 'base64').toString(), 'bench/watch0');
});

test('shared table: ack and send times are visible only once acknowledged; phases in order', () => {
  const a = FanoutShared.create(10);
  const b = new FanoutShared(a.buffers, 10);
  assert.equal(b.phase(), Phase.opening);
  a.addOpened(3);
  a.addOpenFailed(1);
  assert.equal(b.opened(), 3);
  assert.equal(b.openFailed(), 1);
  a.start(1000, 2000);
  assert.equal(b.phase(), Phase.running);
  assert.deepEqual([b.windowStartMs(), b.windowEndMs()], [1000, 2000]);
  assert.throws(() => a.start(3000, 4000), /once/);
  a.recordSent(4, 1500);
  assert.equal(b.ackOf(4), undefined);
  assert.equal(b.sentOf(4), undefined);
  a.recordAck(4, 1502.5, 77);
  assert.deepEqual([b.ackOf(4), b.sentOf(4), b.revOf(4)], [1502.5, 1500, 77]);
  assert.throws(() => a.recordAck(10, 1, 1), /unknown put/);
  assert.throws(() => a.recordAck(5, 1, 0), /without a revision/);
  a.finishWriter(5);
  assert.equal(b.phase(), Phase.writerDone);
  assert.equal(b.seqCount(), 5);
});

test('HttpStreamDecoder: etcd chunked stream fed byte by byte gives whole lines', () => {
  const l1 = '{"result":{"header":{"revision":"8"},"created":true}}\n';
  const l2 = '{"result":{"header":{"revision":"9"},"events":[{"kv":{"key":"dw==","mod_revision":"9"}}]}}\n';
  const chunk = (s: string): string => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  const wire = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
    chunk(l1) + chunk(l2.slice(0, 30)) + chunk(l2.slice(30)) + '0\r\n\r\n';
  const d = new HttpStreamDecoder();
  const lines: string[] = [];
  for (const byte of Buffer.from(wire)) lines.push(...d.push(Buffer.from([byte])));
  assert.equal(d.status, 200);
  assert.deepEqual(lines, [l1.trim(), l2.trim()]);
  assert.equal(d.ended, true);
  const e = new HttpStreamDecoder();
  const body = '{"error":"bad","code":2,"message":"bad"}';
  assert.deepEqual(e.push(Buffer.from(`HTTP/1.1 500 Internal Server Error\r\nContent-Length: ${body.length}\r\n\r\n${body}`)), []);
  assert.equal(e.status, 500);
  assert.equal(e.ended, true);
  assert.equal(e.rest(), body);
  assert.throws(() => new HttpStreamDecoder().push(Buffer.from('SSH-2.0\r\n\r\n')), /bad status line/);
});

test('scanWatchMessage reads etcd 3.4 gateway output as JSON.parse would', () => {
  const header = '"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"8","raft_term":"2"}';
  assert.deepEqual(scanWatchMessage(`{"result":{${header},"created":true}}`), { watchId: '0', created: true, canceled: false, events: [], error: undefined });
  assert.equal(scanWatchMessage(`{"result":{${header},"watch_id":"2","created":true}}`).watchId, '2');
  const kv = (k: string, rev: number): string => `{"kv":{"key":"${b64(k)}","create_revision":"${rev}","mod_revision":"${rev}","version":"1","value":"eA=="}}`;
  const m = scanWatchMessage(`{"result":{${header},"watch_id":"1","events":[${kv('w/1', 8)},{"type":"DELETE",${kv('w/2', 9).slice(1)}]}}`);
  assert.equal(m.watchId, '1');
  assert.deepEqual(m.events, [{ keyB64: b64('w/1'), modRevision: 8 }, { keyB64: b64('w/2'), modRevision: 9 }]);
  const c = scanWatchMessage(`{"result":{${header},"watch_id":"3","canceled":true,"cancel_reason":"mvcc: required revision has been compacted"}}`);
  assert.equal(c.canceled, true);
  assert.match(c.error ?? '', /compacted/);
  assert.equal(scanWatchMessage('{"error":"grpc: received message larger than max","code":2,"message":"grpc: received message larger than max"}').error,
    'grpc: received message larger than max');
  assert.throws(() => scanWatchMessage('{"result":{"events":[{"kv":{"key":"dw=="}}]}}'), /mod_revision/);
});

test('WatcherLedger: new, duplicate, reordered, foreign; gaps are missed, the tail undelivered', () => {
  const l = new WatcherLedger(3, 10);
  assert.equal(l.record(0, 0, 10), 'new');
  assert.equal(l.record(0, 0, 10), 'duplicate');
  assert.equal(l.record(0, 2, 12), 'new');
  assert.equal(l.record(0, 1, 11), 'reordered');
  assert.equal(l.record(0, 10, 20), 'foreign');
  assert.equal(l.record(0, -1, 20), 'foreign');
  assert.equal(l.seen[0], 3);
  assert.equal(l.record(1, 0, 10), 'new');
  assert.equal(l.record(1, 2, 12), 'new');
  assert.equal(l.allSeen(1), false, 'watcher 2 has nothing');
  // Puts 0..2 acknowledged at revisions 10..12, put 3 never acknowledged.
  const revs = [10, 11, 12];
  const t = l.totals(4, (s) => revs[s]);
  // watcher 1 skipped put 1 although it got revision 12: missed; watcher 2 got nothing: 3 undelivered.
  assert.deepEqual(t, { missed: 1, undelivered: 3 });
  assert.ok(l.allSeen(0));
  assert.equal(WatcherLedger.bytesFor(2, 16), 2 * (2 + 12));
});

test('connections: one watcher per HTTP stream, up to N per WebSocket', () => {
  assert.deepEqual(connectionSizes(3, 'http', 100), [1, 1, 1]);
  assert.deepEqual(connectionSizes(250, 'ws', 100), [100, 100, 50]);
  assert.deepEqual(connectionSizes(5, 'ws', 1), [1, 1, 1, 1, 1]);
  assert.equal(seqCapacity(200, 2000, 10_000), 2400 + writerInflightMax + 1);
  assert.ok(ledgerBytes(10_000, 200, 2000, 10_000) < 4 * 2 ** 20);
});

test('flags: --watchers, --transport, --rate and the watch params', () => {
  const o = parseOptions(['watch', '--watchers', '100,1000,10000', '--transport', 'ws', '--rate', '50'], 2);
  assert.deepEqual(o.watcherCounts, [100, 1000, 10_000]);
  assert.equal(o.transport, 'ws');
  assert.equal(o.ratePerS, 50);
  const d = parseOptions(['watch'], 2);
  assert.deepEqual([d.watcherCounts, d.transport, d.ratePerS], [[100], 'http', 200]);
  assert.throws(() => parseOptions(['watch', '--transport', 'grpc'], 2), UsageError);
  assert.throws(() => parseOptions(['watch', '--watchers', '0'], 2), /--watchers wants an integer/);
  assert.throws(() => parseOptions(['watch', '--watchers', '30000'], 2), /--watchers wants an integer in 1\.\.20000/);
  assert.throws(() => parseOptions(['watch', '--rate', '0'], 2), /--rate/);
  assert.deepEqual(fanoutParams({}), { watchesPerSocket: 100, openRatePerS: 1000, drainS: 10 });
  assert.deepEqual(fanoutParams({ 'watches-per-socket': '1', 'open-rate': '50', drain: '2' }), { watchesPerSocket: 1, openRatePerS: 50, drainS: 2 });
  assert.throws(() => fanoutParams({ 'watchers-per-socket': '1' }), /unknown --param/);
  assert.throws(() => fanoutParams({ drain: '0' }), /drain/);
});

/** A fake watch server: HTTP streams and WebSocket; `broadcast` sends one event to chosen watches. */
async function fakeWatchServer(): Promise<{ url: string; watches: Array<(line: string) => void>; close(): void }> {
  const watches: Array<(line: string) => void> = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.once('data', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"result":{"header":{"revision":"1"},"created":true}}\n');
      watches.push((line) => res.write(`${line}\n`));
    });
  });
  const wss = new WebSocketServer({ server, path: '/v3/watch' });
  wss.on('connection', (ws: WebSocket) => {
    let next = 0;
    ws.on('message', () => {
      const id = next++;
      const idJson = id === 0 ? '' : `"watch_id":"${id}",`;
      ws.send(`{"result":{"header":{"revision":"1"},${idJson}"created":true}}`);
      watches.push((line) => ws.send(line.replace('"events"', `${idJson}"events"`)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    watches,
    close: () => { for (const c of wss.clients) c.terminate(); wss.close(); server.closeAllConnections(); server.close(); },
  };
}

const eventLine = (seq: number, rev: number): string =>
  `{"result":{"header":{"revision":"${rev}"},"events":[{"kv":{"key":"${b64(watchKeyOfSeq(seq))}","create_revision":"${rev}","mod_revision":"${rev}","version":"1","value":"eA=="}}]}}`;

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function faultyRun(transport: 'http' | 'ws'): Promise<FanoutResult> {
  const srv = await fakeWatchServer();
  try {
    const shared = FanoutShared.create(16);
    const run = runFanout({
      endpoints: [srv.url], transport, watchers: 6, watcherIndexBase: 0, watchesPerSocket: 4, openRatePerS: 1000,
      openTimeoutMs: 5_000, drainTimeoutMs: 500, deadlineMs: nowMs() + 20_000, shared: shared.buffers, seqMax: 16,
    });
    await until(() => shared.opened() === 6 && srv.watches.length === 6, 'six watchers');
    shared.start(nowMs(), nowMs() + 60_000);
    for (let seq = 0; seq < 5; seq++) {
      shared.recordSent(seq, nowMs() - 1);
      shared.recordAck(seq, nowMs(), 10 + seq);
      srv.watches.forEach((send, w) => {
        if (w === 0 && seq === 2) return; // a gap: later events arrive
        if (w === 2 && seq === 4) return; // the tail never arrives
        send(eventLine(seq, 10 + seq));
        if (w === 1 && seq === 3) send(eventLine(seq, 10 + seq)); // a repeat
      });
    }
    shared.finishWriter(5);
    return await run;
  } finally {
    srv.close();
  }
}

for (const transport of ['http', 'ws'] as const) {
  test(`fan-out worker over ${transport}: counts events, latencies, gaps, repeats and the undelivered tail`, async () => {
    const r = await faultyRun(transport);
    assert.equal(r.opened, 6);
    assert.deepEqual(r.errors, {});
    assert.equal(r.totalEvents, 6 * 5 - 2 + 1);
    assert.equal(r.windowEvents, r.totalEvents);
    assert.equal(r.missed, 1);
    assert.equal(r.duplicates, 1);
    assert.equal(r.undelivered, 1);
    assert.equal(r.reordered, 0);
    assert.equal(r.foreign, 0);
    assert.ok(r.drainMs >= 500, 'waited out the drain for the undelivered put');
    for (const h of [r.histogramB64, r.fromSendHistogramB64]) assert.equal(hdr.decodeFromCompressedBase64(h).totalCount, 28, 'one latency per new event');
  });
}

test('fan-out worker: a refused endpoint fails the opens and the task still ends', async () => {
  const srv = await fakeWatchServer();
  srv.close();
  const shared = FanoutShared.create(4);
  const r = await runFanout({
    endpoints: [srv.url], transport: 'http', watchers: 3, watcherIndexBase: 0, watchesPerSocket: 1, openRatePerS: 1000,
    openTimeoutMs: 2_000, drainTimeoutMs: 100, deadlineMs: nowMs() + 3_000, shared: shared.buffers, seqMax: 4,
  });
  assert.equal(r.opened, 0);
  assert.equal(shared.openFailed(), 3);
  assert.equal(r.errors['open failed: net ECONNREFUSED'], 3);
});

test('end to end: watch against a fresh tetcd over WebSocket exits by itself with a clean table', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join('bench', 'run.ts'), 'watch', '--watchers', '3', '--transport', 'ws',
    '--param', 'watches-per-socket=2', '--rate', '20', '--threads', '2', '--duration', '0.5', '--warmup', '0.2', '--param', 'drain=5', '--no-record'],
  { cwd: REPO_ROOT, encoding: 'utf8', timeout: 150_000 });
  assert.equal(run.status, 0, `exit ${run.status}\n${run.stderr}`);
  // watchers 3, puts/s, events/s, p50, p99, max, from send, then missed 0 | dup 0 | reorder 0 | undelivered 0.
  assert.match(run.stdout, /\| tetcd \| ws \(2\/socket\) \| 3 \| \d+ \| [1-9]\d* \|[^|]*\|[^|]*\|[^|]*\|[^|]*\| 0 \| 0 \| 0 \| 0 \|/);
});
