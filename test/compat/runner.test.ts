// Tests of the compatibility runner itself, without etcd: normalization removes exactly the
// volatile fields and nothing else, ignore paths work, and a case run against two small HTTP
// servers that disagree (on a revision, a status, a message) is reported at the right step.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { b64, put, range, type Observation } from './model.js';
import { firstDifference, normalize, runCase } from './runner.js';

const ok = (body: Observation['body']): Observation => ({ status: 200, contentType: 'application/json', body });

test('normalize strips ids and term in every header, and nothing else', () => {
  const obs = ok({
    header: { cluster_id: '1', member_id: '2', revision: '7', raft_term: '3' },
    responses: [{ response_txn: { header: { member_id: '9', revision: '7' } } }],
    kvs: [{ key: 'YQ==', mod_revision: '7', lease: '5' }],
  });
  const out = normalize(obs, range('a'));
  assert.deepEqual(out.body, {
    header: { revision: '7' },
    responses: [{ response_txn: { header: { revision: '7' } } }],
    kvs: [{ key: 'YQ==', mod_revision: '7', lease: '5' }],
  });
  // The input is left untouched (raw answers feed dynamic bodies of later steps).
  assert.equal((obs.body as { header: { member_id: string } }).header.member_id, '2');
});

test('ignore paths remove values at any index', () => {
  const step = { ...range('a'), ignore: ['ID', 'kvs.*.lease'] };
  const out = normalize(ok({ ID: '123', kvs: [{ lease: '1', key: 'a' }, { lease: '2', key: 'b' }] }), step);
  assert.deepEqual(out.body, { kvs: [{ key: 'a' }, { key: 'b' }] });
});

test('maintenance status drops engine- and raft-dependent fields only', () => {
  const step = { path: '/v3/maintenance/status', body: {} };
  const out = normalize(ok({ header: { revision: '3' }, dbSize: '100', raftIndex: '9', leader: '1', isLearner: false }), step);
  assert.deepEqual(out.body, { header: { revision: '3' }, isLearner: false });
});

/** A server answering each request with the next of `answers`, cyclically (one per case run). */
async function scripted(t: { after(fn: () => void): void }, answers: Array<[number, string]>): Promise<string> {
  let i = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const [status, body] = answers[i++ % answers.length]!;
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a differing revision, status or message is found at its step', async (t) => {
  const steps = [put('k', 'v'), range('k'), range('k')];
  const header = (rev: string, member: string): string => `{"header":{"member_id":"${member}","revision":"${rev}"}}`;
  const err = (message: string): string => JSON.stringify({ error: message, message, code: 3 });
  const reference = await scripted(t, [[200, header('2', '1')], [200, header('2', '1')], [400, err('etcdserver: key is not provided')]]);
  const sameButIds = await scripted(t, [[200, header('2', '8')], [200, header('2', '8')], [400, err('etcdserver: key is not provided')]]);
  const badRevision = await scripted(t, [[200, header('2', '1')], [200, header('3', '1')], [400, err('etcdserver: key is not provided')]]);
  const badMessage = await scripted(t, [[200, header('2', '1')], [200, header('2', '1')], [400, err('key is not provided')]]);
  const badStatus = await scripted(t, [[201, header('2', '1')], [200, header('2', '1')], [400, err('x')]]);
  const c = { name: 'probe', steps };
  assert.equal(firstDifference(await runCase(c, reference, sameButIds)), -1);
  assert.equal(firstDifference(await runCase(c, reference, badRevision)), 1);
  assert.equal(firstDifference(await runCase(c, reference, badMessage)), 2);
  assert.equal(firstDifference(await runCase(c, reference, badStatus)), 0);
});

test('builders encode keys as base64', () => {
  assert.deepEqual(put('k', 'v').body, { key: b64('k'), value: b64('v') });
  assert.equal(b64('\0'), 'AA==');
});
