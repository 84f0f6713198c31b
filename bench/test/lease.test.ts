// The lease scenario: reading keep-alive answers (etcd 3.4's shapes), the HTTP framing, which
// lease each stream renews, merging rounds and ratios, its options, its RESULTS.md entry, the
// keep-alive streams against fake servers (HTTP and WebSocket, expired leases, dropped streams),
// and one end-to-end run against a fresh tetcd.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import { WebSocketServer } from 'ws';
import {
  isLeasePoint, keepAliveChunk, keepAliveHead, leaseIndexOf, leaseRatios, leaseRoundBudgetS, mergeLeaseFigures,
  mergeLeaseRounds, scanKeepAliveAnswer, skipInterimHeads, streamCount,
} from '../lease.js';
import type { LeaseFigures, LeasePoint } from '../lease.js';
import { runKeepAlives } from '../lease-stream.js';
import { newLatencyHistogram } from '../load-worker.js';
import { leaseParams, limits, parseOptions, UsageError } from '../options.js';
import { leaseRatiosTable, leaseTable, machineInfo, markdownSummary } from '../report.js';
import { REPO_ROOT } from '../servers.js';
import { mergeHistograms } from '../stats.js';

const header = '{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"1","raft_term":"2"}';

test('keep-alive answers: result with TTL, unknown lease without TTL, stream error, garbage', () => {
  assert.deepEqual(scanKeepAliveAnswer(`{"result":{"header":${header},"ID":"4111120166109361413","TTL":"60"}}`), { kind: 'result', id: '4111120166109361413', ttlS: 60 });
  assert.deepEqual(scanKeepAliveAnswer(`{"result":{"header":${header},"ID":"99"}}\n`), { kind: 'result', id: '99', ttlS: 0 });
  const err = '{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}';
  assert.deepEqual(scanKeepAliveAnswer(err), { kind: 'error', message: 'etcdserver: no leader' });
  assert.deepEqual(scanKeepAliveAnswer('{"error":"bad","code":2,"message":"bad input"}'), { kind: 'error', message: 'bad input' });
  assert.throws(() => scanKeepAliveAnswer(`{"result":{"header":${header}}}`), /without an ID/);
  assert.throws(() => scanKeepAliveAnswer('{"result":{"ID":"7","TTL":"x"}}'), /bad TTL/);
  assert.throws(() => scanKeepAliveAnswer('{"foo":1}'), /neither result nor error/);
  assert.throws(() => scanKeepAliveAnswer('<html>'), /not JSON/);
});

test('HTTP framing: chunk sizes, the full-duplex head, interim heads skipped', () => {
  const chunk = keepAliveChunk('4111120166109361413');
  const m = /^([0-9a-f]+)\r\n([\s\S]*)\r\n$/.exec(chunk);
  assert.ok(m !== null);
  assert.equal(parseInt(m[1] ?? '', 16), Buffer.byteLength(m[2] ?? ''));
  assert.equal(m[2], '{"ID":"4111120166109361413"}\n');
  assert.throws(() => keepAliveChunk('12a'), /decimal/);
  assert.match(keepAliveHead('127.0.0.1:2379'), /Expect: 100-continue\r\n\r\n$/);
  assert.match(keepAliveHead('127.0.0.1:2379'), /^POST \/v3\/lease\/keepalive HTTP\/1\.1\r\nHost: 127\.0\.0\.1:2379\r\n/);
  const final = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  const both = Buffer.from(`HTTP/1.1 100 Continue\r\n\r\n${final}`);
  assert.deepEqual(skipInterimHeads(both), { rest: Buffer.from(final), waiting: false });
  assert.equal(skipInterimHeads(Buffer.from('HTTP/1.1 100 Contin')).waiting, true, 'an incomplete interim head waits');
  assert.equal(skipInterimHeads(Buffer.from('HTTP/1.1')).waiting, true, 'too short to tell waits');
  assert.deepEqual(skipInterimHeads(Buffer.from(final)), { rest: Buffer.from(final), waiting: false });
  assert.equal(skipInterimHeads(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n')).waiting, true, 'only interim heads so far');
});

test('lease slices: every lease renewed once per cycle, streams never share one', () => {
  for (const [leases, streams] of [[5, 2], [16, 16], [100, 7], [3, 16], [1, 1]] as const) {
    const s = streamCount(leases, streams);
    assert.equal(s, Math.min(leases, streams));
    const owner = new Map<number, number>();
    for (let stream = 0; stream < s; stream++) {
      const mine = new Set<number>();
      for (let k = 0; k < leases; k++) {
        const i = leaseIndexOf(stream, k, leases, s);
        assert.ok(i >= 0 && i < leases, `index ${i} in range`);
        assert.ok((owner.get(i) ?? stream) === stream, `lease ${i} renewed by streams ${owner.get(i)} and ${stream}`);
        owner.set(i, stream);
        mine.add(i);
      }
      // A stream's cycle: its leases in turn, then again.
      const cycle = mine.size;
      for (let k = 0; k < cycle; k++) assert.equal(leaseIndexOf(stream, k + cycle, leases, s), leaseIndexOf(stream, k, leases, s));
    }
    assert.equal(owner.size, leases, `L=${leases}, S=${streams}: every lease has an owner`);
  }
  assert.deepEqual([0, 1, 2, 3].map((k) => leaseIndexOf(0, k, 5, 2)), [0, 2, 4, 0]);
  assert.deepEqual([0, 1, 2].map((k) => leaseIndexOf(1, k, 5, 2)), [1, 3, 1]);
  assert.throws(() => leaseIndexOf(2, 0, 5, 2), /stream 2 of 2/);
});

function figures(over: Partial<LeaseFigures>): LeaseFigures {
  return {
    transport: 'http', streams: 16, window: 1, ttlS: 3600, grantS: 2, grantPerS: 500, idleS: 10,
    idleBaseCpuCores: 0.01, idleCpuCores: 0.02, rssBaseKiB: 1000, rssGrantedKiB: 1500, rssIdleEndKiB: 2000,
    rssPerLeaseBytes: 1024, expired: 0, restarts: 0, answered: 100, ...over,
  };
}

/** A histogram of `n` latencies of 1 ms, encoded as the workers send it. */
function histogramOf(n: number): string {
  const h = newLatencyHistogram();
  for (let i = 0; i < n; i++) h.recordValue(1000);
  const b64 = hdr.encodeIntoCompressedBase64(h);
  h.destroy();
  return b64;
}

function leasePoint(target: string, leases: number, opsPerS: number, p50Us: number, lease: LeaseFigures, round = 1): LeasePoint {
  return {
    target, clients: leases, threads: 16, round, windowS: 10, ops: opsPerS * 10, opsPerS,
    latencyUs: { p50: p50Us, p90: p50Us * 2, p99: p50Us * 4, p999: p50Us * 8, max: p50Us * 10, mean: p50Us },
    errors: {}, errorCount: 0, outcomes: {}, generatorCpuCores: 0.4, serverCpuCores: 1.2, histogramB64: histogramOf(opsPerS * 10), lease,
  };
}

test('merging rounds: counts add up, rates, CPU and memory average; a lease point stays one', () => {
  const a = figures({ grantPerS: 400, idleCpuCores: 0.1, expired: 2, restarts: 1, rssPerLeaseBytes: 1000, answered: 10 });
  const b = figures({ grantPerS: 600, idleCpuCores: undefined, expired: 3, restarts: 0, rssPerLeaseBytes: 3000, answered: 5 });
  const m = mergeLeaseFigures([a, b]);
  assert.equal(m.grantPerS, 500);
  assert.equal(m.idleCpuCores, 0.1, 'a round without the figure does not drag the mean to 0');
  assert.equal(m.expired, 5);
  assert.equal(m.restarts, 1);
  assert.equal(m.answered, 15);
  assert.equal(m.rssPerLeaseBytes, 2000);
  assert.throws(() => mergeLeaseFigures([a, figures({ transport: 'ws' })]), /unlike/);
  const merged = mergeLeaseRounds([leasePoint('etcd', 1000, 100, 500, a, 1), leasePoint('etcd', 1000, 300, 500, b, 2)]);
  assert.ok(isLeasePoint(merged));
  assert.equal(merged.round, 0);
  assert.equal(merged.opsPerS, 200, 'ops over the summed windows');
  assert.equal(merged.lease.expired, 5);
  assert.ok(!isLeasePoint({ ...merged, lease: undefined } as never));
});

test('ratios and the RESULTS.md entry of a lease run', () => {
  const t = leasePoint('tetcd', 1000, 2000, 1000, figures({ grantPerS: 250, idleCpuCores: 0.04, rssPerLeaseBytes: 3000 }));
  const e = leasePoint('etcd', 1000, 1000, 2000, figures({ grantPerS: 500, idleCpuCores: 0.02, rssPerLeaseBytes: 1000 }));
  const r = leaseRatios(t, e);
  assert.deepEqual([r.opsPerS, r.p50, r.grantPerS, r.idleCpu, r.rssPerLease, r.serverCpu], [2, 0.5, 0.5, 2, 3, 1]);
  assert.ok(Number.isNaN(leaseRatios(t, leasePoint('etcd', 1000, 1000, 2000, figures({ idleCpuCores: undefined }))).idleCpu));
  assert.equal(leaseRatiosTable([t]), '', 'no etcd point, no ratios');
  const argv = ['lease', '--leases', '1000', '--compare', 'etcd', '--rounds', '1'];
  const md = markdownSummary({
    startedAt: '2026-01-01T00:00:00.000Z', command: `npm run bench -- ${argv.join(' ')}`, scenario: 'lease',
    options: parseOptions(argv, 2), machine: machineInfo(), points: [t, e], merged: [t, e], ratios: [],
    failures: [], profileDir: undefined,
  }, 'bench/out/x.json');
  assert.match(md, /^### lease: tetcd vs etcd, 2026-01-01/);
  assert.match(md, /```sh\nnpm run bench -- lease --leases 1000 --compare etcd --rounds 1\n```/);
  assert.match(md, /TTL 3600 s/);
  // target, transport, leases, grants/s, idle none, idle L, RSS before, at rest, B/lease, streams, keep-alives/s, p50.
  assert.match(md, /\| tetcd \| http \| 1000 \| 250 \| 1\.0% \| 4\.0% \| 1\.0 \| 2\.0 \| 3000 \| 16 \| 2000 \| 1\.000 \|/);
  assert.match(md, /\| 1000 leases \| 2\.00 \| 0\.50 \| 0\.50 \| 1\.00 \| 0\.50 \| 2\.00 \| 3\.00 \|/);
  assert.match(leaseTable([t]), /\| tetcd \| http \| 1000 \|/);
});

test('options: --leases lists and bounds, the lease params', () => {
  const o = parseOptions(['lease', '--leases', '1000,100000', '--transport', 'ws'], 2);
  assert.deepEqual(o.leaseCounts, [1000, 100000]);
  assert.equal(o.transport, 'ws');
  assert.deepEqual(parseOptions(['lease'], 2).leaseCounts, [1000]);
  assert.throws(() => parseOptions(['lease', '--leases', '0'], 2), (e: unknown) => e instanceof UsageError && /--leases/.test(e.message));
  assert.throws(() => parseOptions(['lease', '--leases', `${limits.leasesMax + 1}`], 2), /--leases/);
  const p = leaseParams({});
  assert.deepEqual(p, { streams: 16, window: 1, ttlS: 3600, grantConcurrency: 64, idleS: 10, settleS: 2 });
  assert.deepEqual(leaseParams({ streams: '4', window: '8', ttl: '60', 'grant-concurrency': '200', idle: '0', settle: '0.5' }),
    { streams: 4, window: 8, ttlS: 60, grantConcurrency: 200, idleS: 0, settleS: 0.5 });
  assert.throws(() => leaseParams({ watchers: '1' }), /unknown --param watchers/);
  assert.throws(() => leaseParams({ ttl: '5' }), /--param ttl/);
  assert.throws(() => leaseParams({ window: '65' }), /--param window/);
  // The watchdog grows with L: 100,000 leases get more time than 1000.
  assert.ok(leaseRoundBudgetS([100_000], p, 2, 10, 10) > leaseRoundBudgetS([1000], p, 2, 10, 10) + 900);
});

interface FakeServer {
  readonly url: string;
  close(): void;
}

/** A keep-alive server: answers each `{"ID":"n"}` with TTL 60, lease "0" with no TTL; drops a stream after `dropAfter` answers. */
async function fakeKeepAliveServer(dropAfter = Infinity): Promise<FakeServer> {
  const answer = (text: string): string => {
    const id = (JSON.parse(text) as { ID: string }).ID;
    return `{"result":{"header":${header},"ID":"${id}"${id === '0' ? '' : ',"TTL":"60"'}}}`;
  };
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    let partial = '';
    let answered = 0;
    req.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines.filter((x) => x.trim() !== '')) {
        if (answered++ >= dropAfter) { req.socket.destroy(); return; }
        res.write(`${answer(l)}\n`);
      }
    });
    req.on('end', () => res.end());
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data: Buffer) => ws.send(answer(data.toString()))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => { for (const c of wss.clients) c.terminate(); wss.close(); server.closeAllConnections(); server.close(); },
  };
}

for (const transport of ['http', 'ws'] as const) {
  test(`keep-alive streams over ${transport}: counted in the window, unknown leases counted as expired`, async (t) => {
    const srv = await fakeKeepAliveServer();
    t.after(() => srv.close());
    const startMs = performance.now() + 150;
    const r = await runKeepAlives({
      endpoints: [srv.url], transport, streams: 3, window: 2, leaseIds: ['11', '12', '0', '14', '15'],
      startMs, endMs: startMs + 400, requestTimeoutMs: 2_000,
    });
    assert.ok(r.ops > 0 && r.warmupOps > 0, JSON.stringify(r));
    const expiredInWindow = r.errors['lease not found (TTL 0: expired or revoked)'] ?? 0;
    assert.ok(expiredInWindow > 0 && r.expired >= expiredInWindow, 'lease 0 (stream 2 owns only it) is always unknown');
    assert.deepEqual(Object.keys(r.errors), ['lease not found (TTL 0: expired or revoked)']);
    assert.equal(r.restarts, 0);
    assert.ok(r.answered >= r.ops + r.warmupOps + expiredInWindow);
    assert.equal(mergeHistograms([r.histogramB64]).count, r.ops, 'one latency per counted keep-alive');
  });
}

test('keep-alive streams: a dropped stream is counted and reopened; a refused endpoint ends by itself', async (t) => {
  const srv = await fakeKeepAliveServer(20);
  t.after(() => srv.close());
  const startMs = performance.now() + 50;
  const r = await runKeepAlives({
    endpoints: [srv.url], transport: 'http', streams: 2, window: 1, leaseIds: ['1', '2'], startMs, endMs: startMs + 500, requestTimeoutMs: 2_000,
  });
  assert.ok(r.restarts > 0, 'streams were reopened');
  assert.ok(r.ops > 20, 'renewals continued on the reopened streams');
  assert.ok(Object.keys(r.errors).some((k) => /^net |connection closed/.test(k)), JSON.stringify(r.errors));
  const dead = await fakeKeepAliveServer();
  dead.close();
  const s2 = performance.now();
  const d = await runKeepAlives({
    endpoints: [dead.url], transport: 'ws', streams: 1, window: 1, leaseIds: ['1'], startMs: s2, endMs: s2 + 200, requestTimeoutMs: 500,
  });
  assert.equal(d.ops, 0);
  assert.ok((d.errors['net ECONNREFUSED'] ?? 0) > 0, JSON.stringify(d.errors));
});

test('end to end: lease against a fresh tetcd exits by itself with a clean table', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join('bench', 'run.ts'), 'lease', '--leases', '50', '--param', 'streams=4',
    '--param', 'idle=0.5', '--param', 'settle=0.2', '--duration', '2', '--warmup', '0.3', '--threads', '1', '--no-record'],
  { cwd: REPO_ROOT, encoding: 'utf8', timeout: 150_000 });
  assert.equal(run.status, 0, `exit ${run.status}\n${run.stderr}`);
  // target, transport, L, grants/s, 2 idle CPUs, 2 RSS, B/lease, streams 4, keep-alives/s > 0, p50, p99, max, errors 0, expired 0.
  assert.match(run.stdout, /\| tetcd \| http \| 50 \| [1-9]\d* \|[^|]*\|[^|]*\|[^|]*\|[^|]*\|[^|]*\| 4 \| [1-9]\d* \|[^|]*\|[^|]*\|[^|]*\| 0 \| 0 \|/);
});
