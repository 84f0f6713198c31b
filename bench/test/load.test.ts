// The load loop in process (no pool) against a local server that fails some requests the way
// etcd does, then the whole bench end to end as a user runs it (`--self-test`, piscina workers
// loaded through load-worker.mjs), bounded and without writing result files.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import runLoad, { errorLabel } from '../load-worker.js';
import { REPO_ROOT } from '../servers.js';

test('errorLabel: gRPC gateway errors and non-JSON bodies', () => {
  assert.equal(errorLabel(429, Buffer.from('{"error":"etcdserver: too many requests","code":8,"message":"etcdserver: too many requests"}')),
    'HTTP 429 grpc 8: etcdserver: too many requests');
  assert.equal(errorLabel(502, Buffer.from('Bad\n gateway')), 'HTTP 502: Bad gateway');
});

test('runLoad: counts ops and errors inside the window only', async (t) => {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      if (n % 4 === 0) {
        res.writeHead(429, { 'content-type': 'application/json' });
        res.end('{"error":"etcdserver: too many requests","code":8,"message":"etcdserver: too many requests"}');
      } else {
        res.end('{"header":{"revision":"1"}}');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const start = Date.now() + 150;
  const result = await runLoad({
    scenario: 'put', endpoints: [url], clients: 3, clientIndexBase: 0, clientCount: 3,
    options: { keyCount: 10, valueBytes: 8, readRatio: 0.5, params: {} },
    measureStartEpochMs: start, measureEndEpochMs: start + 300, http: 'raw', requestTimeoutMs: 2_000,
  });
  assert.ok(result.ops > 10, `ops ${result.ops}`);
  assert.ok(result.warmupOps > 0, 'requests before the window are warm-up');
  const h = hdr.decodeFromCompressedBase64(result.histogramB64);
  assert.equal(h.totalCount, result.ops, 'one latency per counted op');
  const errors = result.errors['HTTP 429 grpc 8: etcdserver: too many requests'] ?? 0;
  assert.ok(errors > 0, JSON.stringify(result.errors));
  assert.ok(result.ops + errors + result.warmupOps < n + 1, 'nothing counted twice');
});

test('end to end: --self-test with the piscina pool exits by itself with a table', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join('bench', 'run.ts'), '--self-test', '--clients', '1,4',
    '--threads', '2', '--duration', '0.5', '--warmup', '0.2', '--no-record'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 90_000 });
  assert.equal(run.status, 0, `exit ${run.status}\n${run.stderr}`);
  assert.match(run.stdout, /\| fastify \| 1 \| \d+ \|/);
  assert.match(run.stdout, /\| fastify \| 4 \| \d+ \|/);
  assert.doesNotMatch(run.stdout, /\| fastify \| \d+ \| 0 \|/, 'every point measured some ops');
});
