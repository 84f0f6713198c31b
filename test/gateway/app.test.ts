// The gateway over HTTP (app.inject), against a recording fake KvService: every route's mapping
// JSON -> internal request and internal response -> JSON, zero-value omission, int64 strings,
// error shapes per gRPC code class, oversize bodies, content types, 404/405, health and version.
// Expected bodies, statuses and content types were taken from etcd 3.4.23 with curl (2026-11)
// unless marked "ours".

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ERRORS, EtcdError, GrpcCode } from '../../src/api/errors.js';
import type { ErrorName } from '../../src/api/errors.js';
import { buildGateway } from '../../src/gateway/app.js';
import type { GatewayPlugin } from '../../src/gateway/app.js';
import { FakeKv, HEADER } from './fake-kv.js';

const enc = new TextEncoder();
const b = (s: string): Uint8Array => enc.encode(s);
const H = '{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"7","raft_term":"2"}';

function setup(t: { after(fn: () => Promise<void>): void }, extra: Partial<Parameters<typeof buildGateway>[0]> = {}) {
  const kv = new FakeKv();
  let healthy = true;
  const app = buildGateway({ kv, health: async () => healthy, ...extra });
  t.after(() => app.close());
  return { kv, app, setHealthy: (v: boolean) => { healthy = v; } };
}

async function post(app: FastifyInstance, url: string, payload?: string, headers: Record<string, string> = {}) {
  const r = await app.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload }), headers });
  return { status: r.statusCode, type: r.headers['content-type'], body: r.body, headers: r.headers };
}

const errBody = (message: string, code: number) => JSON.stringify({ error: message, message, code });

describe('kv routes: requests', () => {
  it('range: every field, snake_case', async (t) => {
    const { kv, app } = setup(t);
    const r = await post(app, '/v3/kv/range', JSON.stringify({
      key: 'Zm9v', range_end: 'Zm9w', limit: '10', revision: 5, sort_order: 'DESCEND', sort_target: 'MOD',
      serializable: true, keys_only: true, count_only: true, min_mod_revision: '1', max_mod_revision: '9',
      min_create_revision: '2', max_create_revision: '8',
    }));
    assert.equal(r.status, 200);
    assert.deepEqual(kv.calls, [{ method: 'range', req: {
      key: b('foo'), rangeEnd: b('fop'), limit: 10, revision: 5, sortOrder: 'DESCEND', sortTarget: 'MOD',
      serializable: true, keysOnly: true, countOnly: true, minModRevision: 1, maxModRevision: 9,
      minCreateRevision: 2, maxCreateRevision: 8,
    } }]);
  });

  it('range: camelCase names, enum numbers, zero values left out', async (t) => {
    const { kv, app } = setup(t);
    await post(app, '/v3/kv/range', '{"key":"Zm9v","rangeEnd":"","keysOnly":false,"sortOrder":1,"sortTarget":4,"minModRevision":"0","limit":0}');
    assert.deepEqual(kv.calls, [{ method: 'range', req: { key: b('foo'), sortOrder: 'ASCEND', sortTarget: 'VALUE' } }]);
  });

  it('range: huge int64 values are clamped to safe integers (same meaning)', async (t) => {
    const { kv, app } = setup(t);
    await post(app, '/v3/kv/range', '{"key":"Zm9v","limit":"9223372036854775807","revision":"-9223372036854775808"}');
    assert.deepEqual(kv.calls[0], { method: 'range', req: { key: b('foo'), limit: Number.MAX_SAFE_INTEGER, revision: Number.MIN_SAFE_INTEGER } });
  });

  it('range: an unknown sort order number means key order (etcd sorts by nothing it knows)', async (t) => {
    const { kv, app } = setup(t);
    await post(app, '/v3/kv/range', '{"key":"Zm9v","sort_order":9,"sort_target":"MOD"}');
    assert.deepEqual(kv.calls[0], { method: 'range', req: { key: b('foo'), sortOrder: 'ASCEND', sortTarget: 'KEY' } });
  });

  it('range: an unknown sort target number is refused (ours: etcd 3.4 crashes on it)', async (t) => {
    const { kv, app } = setup(t);
    const r = await post(app, '/v3/kv/range', '{"key":"Zm9v","sort_target":9}');
    assert.equal(r.status, 400);
    assert.equal(r.body, errBody('unknown value 9 for enum etcdserverpb.RangeRequest_SortTarget', 3));
    assert.equal(kv.calls.length, 0);
  });

  it('put: every field, both spellings; lease is a bigint', async (t) => {
    const { kv, app } = setup(t);
    await post(app, '/v3/kv/put', '{"key":"Zm9v","value":"YmFy","lease":"7587862165433474563","prev_kv":true,"ignore_value":true,"ignore_lease":true}');
    await post(app, '/v3/kv/put', '{"key":"Zm9v","lease":-1,"prevKv":true,"ignoreValue":false,"ignoreLease":true}');
    assert.deepEqual(kv.calls, [
      { method: 'put', req: { key: b('foo'), value: b('bar'), lease: 7587862165433474563n, prevKv: true, ignoreValue: true, ignoreLease: true } },
      { method: 'put', req: { key: b('foo'), value: new Uint8Array(0), lease: -1n, prevKv: true, ignoreLease: true } },
    ]);
  });

  it('deleterange and compaction', async (t) => {
    const { kv, app } = setup(t);
    await post(app, '/v3/kv/deleterange', '{"key":"Zm9v","range_end":"AA==","prevKv":true}');
    await post(app, '/v3/kv/compaction', '{"revision":"3","physical":true}');
    await post(app, '/v3/kv/compaction', '');
    assert.deepEqual(kv.calls, [
      { method: 'deleteRange', req: { key: b('foo'), rangeEnd: new Uint8Array([0]), prevKv: true } },
      { method: 'compact', req: { revision: 3, physical: true } },
      { method: 'compact', req: { revision: 0 } },
    ]);
  });

  it('txn: compares (target_union by target), every op kind, nesting', async (t) => {
    const { kv, app } = setup(t);
    await post(app, '/v3/kv/txn', JSON.stringify({
      compare: [
        { key: 'Zm9v', target: 'VALUE', result: 'NOT_EQUAL', value: 'YmFy', range_end: 'Zm9w' },
        { key: 'Zm9v', target: 'MOD', result: 'LESS', mod_revision: '9' },
        { key: 'Zm9v', target: 'CREATE', createRevision: 4, result: 'GREATER' },
        { key: 'Zm9v', target: 'LEASE', lease: '5' },
        { key: 'Zm9v', target: 'VALUE', version: '3' }, // wrong member: etcd compares with the zero value
        { key: 'Zm9v' }, // VERSION EQUAL 0
      ],
      success: [
        { request_range: { key: 'Zm9v', limit: 1 } },
        { requestPut: { key: 'Zm9v', value: 'YmFy' } },
        { request_delete_range: { key: 'Zm9v' } },
        { request_txn: { success: [{ request_put: { key: 'eA==' } }] } },
      ],
      failure: [{ request_range: { key: 'Zm9v' } }],
    }));
    const foo = b('foo');
    assert.deepEqual(kv.calls, [{ method: 'txn', req: {
      compare: [
        { key: foo, target: 'VALUE', result: 'NOT_EQUAL', value: b('bar'), rangeEnd: b('fop') },
        { key: foo, target: 'MOD', result: 'LESS', modRevision: 9 },
        { key: foo, target: 'CREATE', result: 'GREATER', createRevision: 4 },
        { key: foo, target: 'LEASE', result: 'EQUAL', lease: 5n },
        { key: foo, target: 'VALUE', result: 'EQUAL', value: new Uint8Array(0) },
        { key: foo, target: 'VERSION', result: 'EQUAL', version: 0 },
      ],
      success: [
        { requestRange: { key: foo, limit: 1 } },
        { requestPut: { key: foo, value: b('bar') } },
        { requestDeleteRange: { key: foo } },
        { requestTxn: { compare: [], success: [{ requestPut: { key: b('x'), value: new Uint8Array(0) } }], failure: [] } },
      ],
      failure: [{ requestRange: { key: foo } }],
    } }]);
  });

  it('txn: an empty op is "key not found" (etcd: {"success":[{}]})', async (t) => {
    const { app } = setup(t);
    const r = await post(app, '/v3/kv/txn', '{"success":[{}]}');
    assert.equal(r.status, 400);
    assert.equal(r.body, errBody('etcdserver: key not found', 3));
  });

  it('missing, empty and null bodies are empty requests (the member then judges them)', async (t) => {
    const { kv, app } = setup(t);
    await post(app, '/v3/kv/range');
    await post(app, '/v3/kv/range', '');
    await post(app, '/v3/kv/range', 'null');
    await post(app, '/v3/kv/txn', '  ');
    assert.deepEqual(kv.calls.map((c) => c.method), ['range', 'range', 'range', 'txn']);
    assert.deepEqual(kv.calls[0], { method: 'range', req: { key: new Uint8Array(0) } });
    assert.deepEqual(kv.calls[3], { method: 'txn', req: { compare: [], success: [], failure: [] } });
  });

  it('any content type is read as JSON', async (t) => {
    const { kv, app } = setup(t);
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'application/json', 'application/octet-stream']) {
      const r = await post(app, '/v3/kv/range', '{"key":"Zm9v"}', { 'content-type': type });
      assert.equal(r.status, 200, type);
    }
    assert.equal(kv.calls.length, 4);
  });

  it('/v3beta serves the same API', async (t) => {
    const { kv, app } = setup(t);
    const r = await post(app, '/v3beta/kv/put', '{"key":"Zm9v","value":"YmFy"}');
    assert.equal(r.status, 200);
    assert.equal(kv.calls[0]?.method, 'put');
  });
});

describe('kv routes: responses', () => {
  it('range: snake_case, int64 strings, base64, zero values omitted', async (t) => {
    const { kv, app } = setup(t);
    kv.rangeAnswer = {
      header: HEADER, more: true, count: 2,
      kvs: [
        { key: b('foo'), createRevision: 2, modRevision: 3, version: 2, value: b('bar'), lease: 7587862165433474563n },
        { key: b('fop'), createRevision: 4, modRevision: 4, version: 1, value: new Uint8Array(0), lease: 0n },
      ],
    };
    const r = await post(app, '/v3/kv/range', '{"key":"Zm9v"}');
    assert.equal(r.type, 'application/json');
    assert.equal(r.body, `{"header":${H},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmFy","lease":"7587862165433474563"},{"key":"Zm9w","create_revision":"4","mod_revision":"4","version":"1"}],"more":true,"count":"2"}`);
  });

  it('range: an empty answer is just the header; a zero header is {}', async (t) => {
    const { kv, app } = setup(t);
    assert.equal((await post(app, '/v3/kv/range', '{"key":"Zm9v"}')).body, `{"header":${H}}`);
    kv.rangeAnswer = { header: { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 }, kvs: [], more: false, count: 0 };
    assert.equal((await post(app, '/v3/kv/range', '{"key":"Zm9v"}')).body, '{"header":{}}');
  });

  it('put, deleterange, compaction', async (t) => {
    const { kv, app } = setup(t);
    kv.putAnswer = { header: HEADER, prevKv: { key: b('foo'), createRevision: 2, modRevision: 2, version: 1, value: b('bar'), lease: 0n } };
    kv.deleteAnswer = { header: HEADER, deleted: 1, prevKvs: [{ key: b('foo'), createRevision: 2, modRevision: 5, version: 3, value: b('x'), lease: 0n }] };
    assert.equal((await post(app, '/v3/kv/put', '{"key":"Zm9v"}')).body,
      `{"header":${H},"prev_kv":{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}}`);
    assert.equal((await post(app, '/v3/kv/deleterange', '{"key":"Zm9v"}')).body,
      `{"header":${H},"deleted":"1","prev_kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"5","version":"3","value":"eA=="}]}`);
    kv.deleteAnswer = { header: HEADER, deleted: 0, prevKvs: [] };
    assert.equal((await post(app, '/v3/kv/deleterange', '{"key":"Zm9v"}')).body, `{"header":${H}}`);
    assert.equal((await post(app, '/v3/kv/compaction', '{"revision":"3"}')).body, `{"header":${H}}`);
  });

  it('txn: responses by oneof name, nested headers as given, succeeded omitted when false', async (t) => {
    const { kv, app } = setup(t);
    const inner = { clusterId: 0n, memberId: 0n, revision: 7, raftTerm: 0 };
    kv.txnAnswer = {
      header: HEADER, succeeded: false,
      responses: [
        { responseRange: { header: inner, kvs: [], more: false, count: 0 } },
        { responsePut: { header: inner } },
        { responseDeleteRange: { header: inner, deleted: 2, prevKvs: [] } },
        { responseTxn: { header: inner, succeeded: true, responses: [] } },
      ],
    };
    const r = await post(app, '/v3/kv/txn', '{}');
    const h = '{"revision":"7"}';
    assert.equal(r.body, `{"header":${H},"responses":[{"response_range":{"header":${h}}},{"response_put":{"header":${h}}},` +
      `{"response_delete_range":{"header":${h},"deleted":"2"}},{"response_txn":{"header":${h},"succeeded":true}}]}`);
  });

  it('maintenance status keeps the proto camelCase names', async (t) => {
    const { kv, app } = setup(t);
    const r = await post(app, '/v3/maintenance/status', '{"anything":1}');
    assert.equal(r.body, `{"header":${H},"version":"3.4.0","dbSize":"20480","leader":"10276657743932975437","raftIndex":"9","raftTerm":"2","raftAppliedIndex":"9","dbSizeInUse":"16384"}`);
    kv.statusAnswer = { ...kv.statusAnswer, errors: ['memberID:1 alarm:NOSPACE'], isLearner: true };
    assert.match((await post(app, '/v3/maintenance/status')).body, /"raftAppliedIndex":"9","errors":\["memberID:1 alarm:NOSPACE"\],"dbSizeInUse":"16384","isLearner":true\}$/);
    assert.equal((await post(app, '/v3/maintenance/status', '[]')).status, 400);
  });
});

describe('errors', () => {
  it('bad JSON, bad base64 and wrong types are 400 code 3 with Go texts', async (t) => {
    const { kv, app } = setup(t);
    const cases: Array<[string, string]> = [
      ['{bad', "invalid character 'b' looking for beginning of object key string"],
      ['{"key":', 'unexpected EOF'],
      ['{"key":"%%%"}', 'illegal base64 data at input byte 0'],
      ['{"key":"Zm9v","limit":"abc"}', "invalid character 'a' looking for beginning of value"],
      ['{"key":"Zm9v","keys_only":"true"}', 'json: cannot unmarshal string into Go value of type bool'],
      ['[]', 'json: cannot unmarshal array into Go value of type map[string]json.RawMessage'],
    ];
    for (const [payload, message] of cases) {
      const r = await post(app, '/v3/kv/range', payload);
      assert.equal(r.status, 400, payload);
      assert.equal(r.type, 'application/json');
      assert.equal(r.body, errBody(message, 3), payload);
    }
    // a body that is not UTF-8 decodes with replacement characters, then fails as base64
    const bad = Buffer.from([0x7b, 0x22, 0x6b, 0x65, 0x79, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const r = await app.inject({ method: 'POST', url: '/v3/kv/range', payload: bad });
    assert.equal(r.body, errBody('illegal base64 data at input byte 0', 3));
    assert.equal(kv.calls.length, 0);
  });

  it('each gRPC code class maps to etcd 3.4\'s HTTP status (grpc-gateway v1: FailedPrecondition is 412, checked with etcd)', async (t) => {
    const { kv, app } = setup(t);
    const expected: Partial<Record<ErrorName, number>> = {
      EmptyKey: 400, Compacted: 400, FutureRev: 400, NoSpace: 429, LeaseNotFound: 404, LeaseExist: 412,
      NoLeader: 503, Timeout: 503, NotLeader: 412, Corrupt: 500, RequestTooLarge: 400, TooManyRequests: 429,
    };
    for (const [name, status] of Object.entries(expected) as Array<[ErrorName, number]>) {
      kv.failWith = EtcdError.of(name);
      const r = await post(app, '/v3/kv/put', '{"key":"Zm9v"}');
      assert.equal(r.status, status, name);
      assert.equal(r.body, errBody(ERRORS[name].message, ERRORS[name].grpc), name);
    }
    // an error that crossed a thread boundary as plain data
    kv.failWith = EtcdError.of('Compacted').toData();
    assert.equal((await post(app, '/v3/kv/range', '{"key":"Zm9v"}')).body, errBody(ERRORS.Compacted.message, 11));
  });

  it('a non-etcd failure is code 2 Unknown, 500, without a stack (ours: grpc-gateway\'s mapping)', async (t) => {
    const { kv, app } = setup(t);
    kv.failWith = new Error('boom');
    const r = await post(app, '/v3/kv/range', '{"key":"Zm9v"}');
    assert.equal(r.status, 500);
    assert.equal(r.body, errBody('boom', GrpcCode.Unknown));
  });

  it('a request over the gRPC limit: 429 code 8 with the protobuf size (3 MiB key: etcd says 3145733)', async (t) => {
    const { kv, app } = setup(t);
    const key = Buffer.alloc(3 * 1024 * 1024, 0x78).toString('base64');
    const r = await post(app, '/v3/kv/range', `{"key":"${key}"}`);
    assert.equal(r.status, 429);
    assert.equal(r.body, errBody('grpc: received message larger than max (3145733 vs. 2097152)', 8));
    // nested txn with compare range_end (field 64) and a negative lease: etcd says 2200074
    const a = Buffer.alloc(1_500_000).toString('base64');
    const c = Buffer.alloc(700_000).toString('base64');
    const txn = JSON.stringify({
      compare: [{ key: 'eA==', target: 'VALUE', value: 'eQ==', range_end: 'eg==' }, { key: 'eA==', version: '0' }],
      success: [{ request_put: { key: a, lease: '-1' } }, { request_txn: { failure: [{ request_range: { key: c, limit: '300' } }] } }],
      failure: [{ request_delete_range: { key: 'eA==' } }],
    });
    assert.equal((await post(app, '/v3/kv/txn', txn)).body, errBody('grpc: received message larger than max (2200074 vs. 2097152)', 8));
    // just under the limit passes to the member (etcd: 200 for a 2 MiB - 20 byte key)
    const ok = await post(app, '/v3/kv/range', `{"key":"${Buffer.alloc(2 * 1024 * 1024 - 20).toString('base64')}"}`);
    assert.equal(ok.status, 200);
    assert.equal(kv.calls.length, 1);
  });

  it('the limit follows maxRequestBytes; a body over the HTTP cap gets the same error shape (ours: body size)', async (t) => {
    const { app } = setup(t, { maxRequestBytes: 1024, bodyLimitBytes: 4096 });
    const limit = 1024 + 512 * 1024;
    const key = Buffer.alloc(limit).toString('base64');
    const r = await post(app, '/v3/kv/put', `{"key":"${key}"}`);
    assert.equal(r.status, 429);
    assert.match(r.body, new RegExp(`received message larger than max \\(\\d+ vs\\. ${limit}\\)`));
    assert.equal(JSON.parse(r.body).code, 8);
  });

  it('unknown paths and wrong methods answer like etcd, in text/plain', async (t) => {
    const { app } = setup(t);
    const cases: Array<[string, string, number, string]> = [
      ['POST', '/v3/nope', 404, 'Not Found\n'], ['POST', '/v3/kv', 404, 'Not Found\n'], ['POST', '/v3/kv/', 404, 'Not Found\n'],
      ['POST', '/v3/kv/range/extra', 404, 'Not Found\n'], ['POST', '/v3beta/nope', 404, 'Not Found\n'],
      ['POST', '/v3alpha/kv/range', 404, '404 page not found\n'], ['POST', '/nope', 404, '404 page not found\n'],
      ['GET', '/', 404, '404 page not found\n'], ['GET', '/health/', 404, '404 page not found\n'],
      ['GET', '/v3/kv/range', 405, 'Method Not Allowed\n'], ['PUT', '/v3/kv/range', 405, 'Method Not Allowed\n'],
      ['DELETE', '/v3/kv/deleterange', 405, 'Method Not Allowed\n'], ['PATCH', '/v3/kv/put', 405, 'Method Not Allowed\n'],
      ['GET', '/v3beta/maintenance/status', 405, 'Method Not Allowed\n'], ['POST', '/health', 405, 'Method Not Allowed\n'],
      ['HEAD', '/version', 405, ''],
    ];
    for (const [method, url, status, body] of cases) {
      const r = await app.inject({ method: method as 'GET', url });
      assert.equal(r.statusCode, status, `${method} ${url}`);
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8', `${method} ${url}`);
      if (method !== 'HEAD') assert.equal(r.body, body, `${method} ${url}`);
    }
    assert.equal((await app.inject({ method: 'POST', url: '/health' })).headers.allow, 'GET');
    assert.equal((await app.inject({ method: 'GET', url: '/v3/kv/range' })).headers.allow, undefined);
  });

  it('query strings are ignored; CORS headers are on every answer; OPTIONS is 200 empty', async (t) => {
    const { app } = setup(t);
    const r = await post(app, '/v3/kv/range?x=1', '{"key":"Zm9v"}');
    assert.equal(r.status, 200);
    for (const res of [r, await post(app, '/nope'), await post(app, '/v3/kv/range', '{bad')]) {
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.equal(res.headers['access-control-allow-methods'], 'POST, GET, OPTIONS, PUT, DELETE');
      assert.equal(res.headers['access-control-allow-headers'], 'accept, content-type, authorization');
    }
    const o = await app.inject({ method: 'OPTIONS', url: '/v3/kv/range' });
    assert.equal(o.statusCode, 200);
    assert.equal(o.body, '');
  });
});

describe('health and version', () => {
  it('health: 200 {"health":"true"} or 503 {"health":"false"} (text/plain); a throwing check is unhealthy', async (t) => {
    const kv = new FakeKv();
    let answer: () => Promise<boolean> = async () => true;
    const app = buildGateway({ kv, health: () => answer() });
    t.after(() => app.close());
    const ok = await app.inject({ method: 'GET', url: '/health' });
    assert.deepEqual([ok.statusCode, ok.headers['content-type'], ok.body], [200, 'text/plain; charset=utf-8', '{"health":"true"}']);
    answer = async () => false;
    const bad = await app.inject({ method: 'GET', url: '/health?serializable=true' });
    assert.deepEqual([bad.statusCode, bad.headers['content-type'], bad.body], [503, 'text/plain; charset=utf-8', '{"health":"false"}\n']);
    answer = async () => { throw new Error('no leader'); };
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 503);
  });

  it('version: exactly etcd\'s two fields, application/json', async (t) => {
    const { app } = setup(t);
    const r = await app.inject({ method: 'GET', url: '/version' });
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(Object.keys(JSON.parse(r.body)), ['etcdserver', 'etcdcluster']);
    const custom = setup(t, { version: { etcdserver: '3.4.9', etcdcluster: '3.4.0' } });
    assert.equal((await custom.app.inject({ method: 'GET', url: '/version' })).body, '{"etcdserver":"3.4.9","etcdcluster":"3.4.0"}');
  });
});

describe('services', () => {
  it('a further service plugin is served under both prefixes with the shared limits', async (t) => {
    const seen: number[] = [];
    const lease: GatewayPlugin = async (app, ctx) => {
      seen.push(ctx.maxRecvBytes);
      app.post('/lease/leases', async () => ({ leases: [] }));
    };
    const { app } = setup(t, { services: [lease] });
    assert.equal((await post(app, '/v3/lease/leases', '{}')).status, 200);
    assert.equal((await post(app, '/v3beta/lease/leases', '{}')).status, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/v3/lease/leases' })).statusCode, 405);
    assert.deepEqual(seen, [2097152, 2097152]);
  });
});
