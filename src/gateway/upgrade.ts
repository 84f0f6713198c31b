// WebSocket upgrades for the gateway's stream services (watch, lease keep-alive). Node's HTTP
// server has one 'upgrade' event for every path, so each server gets ONE listener here with a
// table from path to service; a path no service claims is answered 404 at once (etcd's gateway
// answers 404 too) instead of being left hanging. Fastify instances register the same path under
// each API prefix (/v3, /v3beta); the query string is ignored, as for HTTP routes.

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

type Upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Upgrade tables per HTTP server. */
const tables = new WeakMap<Server, Map<string, Upgrade>>();

const NOT_FOUND = 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';

/**
 * Serves WebSockets on `path` of `server`: each accepted socket goes to `onSocket`, after
 * `ready` (if given) resolves. Frames over `maxPayloadBytes` close the socket (ws's own bound).
 */
export function routeWebSocket(
  server: Server, path: string, maxPayloadBytes: number, onSocket: (ws: WebSocket) => void, ready?: Promise<void>,
): void {
  let table = tables.get(server);
  if (table === undefined) {
    const t = new Map<string, Upgrade>();
    tables.set(server, t);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const upgrade = t.get(q < 0 ? url : url.slice(0, q));
      if (upgrade === undefined) socket.end(NOT_FOUND);
      else upgrade(req, socket, head);
    });
    table = t;
  }
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes });
  const accept: Upgrade = (req, socket, head) => wss.handleUpgrade(req, socket, head, onSocket);
  table.set(path, ready === undefined ? accept : (req, socket, head) => void ready.then(() => accept(req, socket, head)));
}
