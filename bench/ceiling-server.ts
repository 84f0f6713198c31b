// The trivial server of the `ceiling` scenario (`--self-test`): Fastify on 127.0.0.1:<port>
// answering every `POST /v3/kv/*` with one fixed JSON body shaped like an etcd range answer,
// and `GET /health` like etcd. Run as its own process (like etcd and tetcd) so the bench
// process's CPU figures stay the generator's alone.
//
//   node --import tsx bench/ceiling-server.ts <port>

import assert from 'node:assert/strict';
import Fastify from 'fastify';

const port = Number(process.argv[2]);
assert.ok(Number.isInteger(port) && port > 0 && port < 65536, 'usage: ceiling-server.ts <port>');

const answer = JSON.stringify({
  header: { cluster_id: '324952591200643719', member_id: '3319814642761637952', revision: '1001', raft_term: '2' },
  kvs: [{ key: 'YmVuY2gvMDAwMDAwMDE=', create_revision: '2', mod_revision: '2', version: '1', value: 'YQ==' }],
  count: '1',
});

const app = Fastify({ logger: false });
app.get('/health', async (_req, reply) => reply.type('text/plain').send('{"health":"true"}'));
app.post('/v3/kv/*', async (_req, reply) => reply.type('application/json').send(answer));

await app.listen({ host: '127.0.0.1', port });
const stop = (): void => {
  void app.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
