// Tests of test/helpers/servers.ts against real etcd: a started server is healthy on its URL,
// stop() ends it and removes the temp data dir it made, kill() keeps the dir so that a restart on
// the same dir and ports finds the data, and a server that cannot start fails with its output.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { etcdMissingReason, startEtcd } from '../helpers/servers.js';

const missing = etcdMissingReason();
if (missing !== undefined && process.env.CI) throw new Error(`must run in CI: ${missing}`);
const skip = missing === undefined ? {} : { skip: missing };

async function putAndGet(url: string, write: boolean): Promise<unknown> {
  const key = Buffer.from('helper/k').toString('base64');
  if (write) {
    const res = await fetch(`${url}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key, value: Buffer.from('v').toString('base64') }) });
    assert.equal(res.status, 200);
  }
  const res = await fetch(`${url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key }) });
  const body = (await res.json()) as { kvs?: Array<{ value: string }> };
  return body.kvs?.[0]?.value;
}

test('etcd: start, kill, restart on the same dir, stop', skip, async (t) => {
  const first = await startEtcd({ t });
  assert.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await putAndGet(first.url, true), Buffer.from('v').toString('base64'));
  await first.kill('SIGKILL');
  await assert.rejects(fetch(`${first.url}/health`));
  assert.ok(fs.existsSync(first.dataDir), 'kill keeps the data dir');

  const second = await startEtcd({ t, dataDir: first.dataDir, clientPort: first.clientPort, peerPort: first.peerPort });
  assert.equal(second.url, first.url);
  assert.equal(await putAndGet(second.url, false), Buffer.from('v').toString('base64'));
  await first.stop(); // the owner stops the restarted server before removing the dir
  assert.equal(fs.existsSync(first.dataDir), false);
  await assert.rejects(fetch(`${second.url}/health`));
});

test('etcd: a server that cannot start fails with its output', skip, async (t) => {
  await assert.rejects(startEtcd({ t, args: ['--no-such-flag'], startupTimeoutMs: 5_000 }), (error: Error) => {
    assert.match(error.message, /did not start/);
    assert.match(error.message, /no-such-flag/);
    return true;
  });
});
