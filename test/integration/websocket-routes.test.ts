// WebSocket upgrades share one router per HTTP server (src/gateway/upgrade.ts): watch and lease
// keep-alive both answer on their paths, and a path no service claims gets 404 at once instead
// of a socket left hanging.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startTetcd } from '../helpers/servers.js';

/** Opens a socket and reports the handshake's outcome: 'open' or the HTTP status refused with. */
function handshake(url: string): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: 5000 });
    ws.on('open', () => { ws.close(); resolve('open'); });
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('error', (err) => reject(err));
  });
}

test('WebSocket: watch and keepalive paths open, an unknown path is refused with 404', async (t) => {
  const s = await startTetcd({ t });
  const ws = s.url.replace('http://', 'ws://');
  assert.equal(await handshake(`${ws}/v3/watch`), 'open');
  assert.equal(await handshake(`${ws}/v3beta/watch?x=1`), 'open');
  assert.equal(await handshake(`${ws}/v3/lease/keepalive`), 'open');
  assert.equal(await handshake(`${ws}/v3/nothing`), 404);
  assert.equal(await handshake(`${ws}/v3/kv/range`), 404);
});
