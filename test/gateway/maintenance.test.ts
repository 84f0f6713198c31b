// The Hash and HashKV routes over HTTP (app.inject) against a recording fake: request decoding
// (revision as number or string, both spellings, bad input), the answer's JSON (hash a number,
// compact_revision an int64 string, zero values left out), errors passed through, and
// Unimplemented when the service lacks the methods. Expected shapes from etcd 3.4.23 (Hash) and
// etcdctl's view of HashKV (its JSON route is etcd 3.5's /v3/maintenance/hashkv).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { EtcdError } from '../../src/api/errors.js';
import type { HashKVRequest, HashKVResponse, HashResponse, KvService } from '../../src/api/types.js';
import { buildGateway } from '../../src/gateway/app.js';
import { FakeKv, HEADER } from './fake-kv.js';

const H = '{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"7","raft_term":"2"}';

class FakeHashKv extends FakeKv {
  readonly hashCalls: Array<{ method: 'hash' } | { method: 'hashKV'; req: HashKVRequest }> = [];
  hashAnswer: HashResponse = { header: HEADER, hash: 76775969 };
  hashKVAnswer: HashKVResponse = { header: HEADER, hash: 4213230439, compactRevision: 2 };
  hashFailWith: unknown = undefined;

  private reply<T>(value: T): Promise<T> {
    const err = this.hashFailWith;
    this.hashFailWith = undefined;
    return err === undefined ? Promise.resolve(value) : Promise.reject(err);
  }

  hash(): Promise<HashResponse> {
    this.hashCalls.push({ method: 'hash' });
    return this.reply(this.hashAnswer);
  }

  hashKV(req: HashKVRequest): Promise<HashKVResponse> {
    this.hashCalls.push({ method: 'hashKV', req });
    return this.reply(this.hashKVAnswer);
  }
}

function setup(t: { after(fn: () => Promise<void>): void }, kv: KvService = new FakeHashKv()) {
  const app = buildGateway({ kv, health: async () => true });
  t.after(() => app.close());
  return app;
}

async function post(app: FastifyInstance, url: string, payload?: string) {
  const r = await app.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload }) });
  return { status: r.statusCode, type: r.headers['content-type'], body: r.body };
}

const errBody = (message: string, code: number) => JSON.stringify({ error: message, message, code });

describe('maintenance hash routes', () => {
  it('hash: any object body, hash as a JSON number (etcd 3.4 shape)', async (t) => {
    const kv = new FakeHashKv();
    const app = setup(t, kv);
    for (const body of [undefined, '{}', '{"revision":"x","anything":1}']) {
      const r = await post(app, '/v3/maintenance/hash', body);
      assert.equal(r.status, 200, String(body));
      assert.equal(r.type, 'application/json');
      assert.equal(r.body, `{"header":${H},"hash":76775969}`);
    }
    assert.equal(kv.hashCalls.length, 3);
    assert.ok(kv.hashCalls.every((c) => c.method === 'hash'));
    const bad = await post(app, '/v3beta/maintenance/hash', '[]');
    assert.equal(bad.status, 400);
    assert.equal(bad.body, errBody('json: cannot unmarshal array into Go value of type map[string]json.RawMessage', 3));
  });

  it('hashkv: revision as a number or a string; 0 and absent mean current', async (t) => {
    const kv = new FakeHashKv();
    const app = setup(t, kv);
    for (const body of ['{"revision":5}', '{"revision":"5"}', '{"revision":0}', '', '{"revision":"9223372036854775807"}']) {
      const r = await post(app, '/v3/maintenance/hashkv', body);
      assert.equal(r.status, 200, body);
      assert.equal(r.body, `{"header":${H},"hash":4213230439,"compact_revision":"2"}`);
    }
    assert.deepEqual(kv.hashCalls, [
      { method: 'hashKV', req: { revision: 5 } },
      { method: 'hashKV', req: { revision: 5 } },
      { method: 'hashKV', req: {} },
      { method: 'hashKV', req: {} },
      { method: 'hashKV', req: { revision: Number.MAX_SAFE_INTEGER } },
    ]);
  });

  it('hashkv: never compacted is "-1"; a zero hash is left out', async (t) => {
    const kv = new FakeHashKv();
    const app = setup(t, kv);
    kv.hashKVAnswer = { header: HEADER, hash: 0, compactRevision: -1 };
    const r = await post(app, '/v3/maintenance/hashkv', '{}');
    assert.equal(r.body, `{"header":${H},"compact_revision":"-1"}`);
    kv.hashAnswer = { header: HEADER, hash: 0 };
    assert.equal((await post(app, '/v3/maintenance/hash', '{}')).body, `{"header":${H}}`);
  });

  it('hashkv: a bad revision is refused before the member is asked', async (t) => {
    const kv = new FakeHashKv();
    const app = setup(t, kv);
    const r = await post(app, '/v3/maintenance/hashkv', '{"revision":1.5}');
    assert.equal(r.status, 400);
    assert.equal(r.body, errBody('json: cannot unmarshal number 1.5 into Go value of type int64', 3));
    const s = await post(app, '/v3/maintenance/hashkv', '{"revision":"x"}');
    assert.equal(s.status, 400);
    assert.equal(kv.hashCalls.length, 0);
  });

  it('hashkv: the member\'s Compacted and FutureRev errors pass through as OutOfRange', async (t) => {
    const kv = new FakeHashKv();
    const app = setup(t, kv);
    for (const name of ['Compacted', 'FutureRev'] as const) {
      kv.hashFailWith = EtcdError.of(name);
      const r = await post(app, '/v3/maintenance/hashkv', '{"revision":1}');
      assert.equal(r.status, 400, name);
      assert.equal(r.body, errBody(EtcdError.of(name).message, 11));
    }
  });

  it('a service without hash methods answers Unimplemented (501)', async (t) => {
    const app = setup(t, new FakeKv());
    for (const [path, method] of [['hash', 'Hash'], ['hashkv', 'HashKV']] as const) {
      const r = await post(app, `/v3/maintenance/${path}`, '{}');
      assert.equal(r.status, 501);
      assert.equal(r.body, errBody(`unknown method ${method} for service etcdserverpb.Maintenance`, 12));
    }
  });
});
