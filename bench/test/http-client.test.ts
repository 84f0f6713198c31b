// The raw HTTP client: the incremental response parser on every byte boundary, and a
// RawConnection against a real node:http server (keep-alive reuse, `Connection: close`,
// refused connections, etcd-style chunked error answers with trailers).

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../servers.js';
import { NetError, RawConnection, ResponseParser } from '../http-client.js';
import type { ParsedResponse } from '../http-client.js';

const lengthAnswer = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a":"bcd"}';
const chunkedAnswer = 'HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\nTrailer: Grpc-Trailer-Content-Type\r\n\r\n' +
  '6\r\n{"code\r\n' + 'a;ext=1\r\n":3,"x":1}\r\n' + '0\r\nGrpc-Trailer-Content-Type: application/grpc\r\n\r\n';

function feedInPieces(text: string, pieceBytes: number): ParsedResponse[] {
  const p = new ResponseParser();
  const bytes = Buffer.from(text, 'latin1');
  const out: ParsedResponse[] = [];
  for (let i = 0; i < bytes.length; i += pieceBytes) out.push(...p.push(bytes.subarray(i, i + pieceBytes)));
  return out;
}

test('parser: content-length and chunked answers, split at every piece size', () => {
  for (const piece of [1, 2, 3, 7, 64, 10_000]) {
    const got = feedInPieces(lengthAnswer + chunkedAnswer + lengthAnswer, piece);
    assert.deepEqual(got.map((r) => [r.status, r.body.toString(), r.close]), [
      [200, '{"a":"bcd"}', false],
      [400, '{"code":3,"x":1}', false],
      [200, '{"a":"bcd"}', false],
    ], `piece size ${piece}`);
  }
});

test('parser: Connection: close is reported; garbage is an error', () => {
  const [res] = feedInPieces('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', 5);
  assert.equal(res?.close, true);
  assert.throws(() => new ResponseParser().push(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')), NetError);
  assert.throws(() => new ResponseParser().push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), /without a usable length/);
});

test('RawConnection: keep-alive reuse, close handling, chunked errors', async (t) => {
  const sockets = new Set<unknown>();
  let n = 0;
  const server = http.createServer((req, res) => {
    sockets.add(req.socket);
    n++;
    if (req.url === '/close') res.setHeader('connection', 'close');
    if (req.url === '/error') {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.write('{"error":"etcdserver: key is not provided",');
      res.end('"code":3}');
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => res.end(JSON.stringify({ echo: body, n })));
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const conn = new RawConnection(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 5_000);
  t.after(() => conn.close());
  for (let i = 1; i <= 5; i++) {
    const res = await conn.request({ method: 'POST', path: '/kv', body: `{"i":${i}}` });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), { echo: `{"i":${i}}`, n: i });
  }
  assert.equal(sockets.size, 1, 'five requests share one keep-alive socket');
  assert.equal((await conn.request({ method: 'POST', path: '/close', body: undefined })).status, 200);
  assert.equal((await conn.request({ method: 'POST', path: '/kv', body: '{}' })).status, 200);
  assert.equal(sockets.size, 2, 'a Connection: close answer makes the next request reconnect');
  const err = await conn.request({ method: 'POST', path: '/error', body: '{}' });
  assert.equal(err.status, 400);
  assert.equal((JSON.parse(err.body.toString()) as { code: number }).code, 3);
});

test('RawConnection: a refused connection fails with its errno code', async () => {
  const conn = new RawConnection(`http://127.0.0.1:${await freePort()}`, 2_000);
  await assert.rejects(conn.request({ method: 'GET', path: '/', body: undefined }), (e: unknown) => e instanceof NetError && e.code === 'ECONNREFUSED');
});
