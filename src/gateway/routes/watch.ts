// The watch service (etcdserverpb.Watch) over HTTP, as etcd 3.4's gateway serves it, in both forms
// on the same path `{prefix}/watch`:
//
// - POST: the body is a sequence of WatchRequest JSON values (one is the usual curl form; more
//   are read as they arrive), the answer a never-ending chunked stream of `{"result":
//   WatchResponse}` lines, flushed as they happen. As etcd: the status line and headers go out
//   with the first response (a body with no request gets no answer at all); a bad first request
//   gets `{"error","message","code":2}` with HTTP 500; a bad later request silently ends the
//   reading of requests (the watches go on).
// - WebSocket (etcd's grpc-websocket-proxy): an upgrade on the same path; one WatchRequest per
//   text frame in, one `{"result": WatchResponse}` per frame out; any number of watches, cancels
//   and progress requests per socket. A bad first request: the error frame, then the socket is
//   dropped; a bad later one: requests are no longer read.
//
// Each connection is one hub WatchStream: its send buffer is bounded by the hub (a client that
// does not read gets its watchers moved to catch-up, and is dropped if it still does not read),
// and closing the connection frees all of it.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import { EtcdError, GrpcCode } from '../../api/errors.js';
import { WatchRequestJson } from '../../../schemas/watch.js';
import type { WatchRequestJson as WatchRequestJsonT } from '../../../schemas/watch.js';
import { parseMessage } from '../../../schemas/jsonpb.js';
import type { GatewayPlugin } from '../app.js';
import { routeWebSocket } from '../upgrade.js';
import { headerJson, keyValueJson, revisionOf } from '../codec.js';
import { decodeBody } from '../gojson.js';
import { APPLICATION_JSON, CORS_HEADERS, errorBody } from '../http.js';
import { JsonStreamSplitter } from '../../watch/json-stream.js';
import type { StreamSink, WatchHub, WatchStream } from '../../watch/hub.js';
import type { WatchCreateRequest, WatchEvent, WatchRequest, WatchResponse } from '../../watch/types.js';

/** One request's text may be this many times the gRPC receive limit (JSON base64 overhead). */
const REQUEST_CHARS_PER_RECV_BYTE = 4;

// ---- JSON <-> model ----

function createFromJson(j: NonNullable<WatchRequestJsonT['create_request']>): WatchCreateRequest {
  const out: WatchCreateRequest = { key: j.key ?? new Uint8Array(0) };
  if (j.range_end !== undefined && j.range_end.length > 0) out.rangeEnd = j.range_end;
  if (j.start_revision !== undefined && j.start_revision !== 0n) out.startRevision = revisionOf(j.start_revision);
  if (j.progress_notify === true) out.progressNotify = true;
  if (j.filters !== undefined && j.filters.length > 0) out.filters = j.filters;
  if (j.prev_kv === true) out.prevKv = true;
  if (j.watch_id !== undefined && j.watch_id !== 0n) out.watchId = j.watch_id;
  if (j.fragment === true) out.fragment = true;
  return out;
}

/** The request in a value, or undefined for a WatchRequest with no member set (etcd ignores it). */
export function watchRequestFromJson(j: WatchRequestJsonT): WatchRequest | undefined {
  if (j.create_request !== undefined) return { createRequest: createFromJson(j.create_request) };
  if (j.cancel_request !== undefined) return { cancelRequest: { watchId: j.cancel_request.watch_id ?? 0n } };
  if (j.progress_request !== undefined) return { progressRequest: {} };
  return undefined;
}

function eventJson(ev: WatchEvent): string {
  let s = ev.type === 'DELETE' ? '{"type":"DELETE",' : '{';
  s += `"kv":${keyValueJson(ev.kv)}`;
  if (ev.prevKv !== undefined) s += `,"prev_kv":${keyValueJson(ev.prevKv)}`;
  return s + '}';
}

/** `{"result": WatchResponse}` as grpc-gateway writes it (proto field order, zero values left out). */
export function watchResultJson(r: WatchResponse): string {
  let s = `{"result":{"header":${headerJson(r.header)}`;
  if (r.watchId !== 0n) s += `,"watch_id":"${r.watchId}"`;
  if (r.created === true) s += ',"created":true';
  if (r.canceled === true) s += ',"canceled":true';
  if (r.compactRevision !== undefined && r.compactRevision !== 0) s += `,"compact_revision":"${r.compactRevision}"`;
  if (r.cancelReason !== undefined && r.cancelReason !== '') s += `,"cancel_reason":${JSON.stringify(r.cancelReason)}`;
  if (r.fragment === true) s += ',"fragment":true';
  if (r.events.length > 0) s += `,"events":[${r.events.map(eventJson).join(',')}]`;
  return s + '}}';
}

/** Decodes one request value; errors as etcd's watch gateway gives them (gRPC Unknown). */
function decodeRequest(text: string): WatchRequest | undefined {
  try {
    return watchRequestFromJson(parseMessage(WatchRequestJson, decodeBody(text)));
  } catch (err) {
    if (err instanceof EtcdError) throw new EtcdError(GrpcCode.Unknown, err.message);
    throw err;
  }
}

// ---- one connection, either form ----

/** Feeds request text to a stream; reports a bad request once, then ignores the rest (as etcd). */
class RequestReader {
  private readonly splitter: JsonStreamSplitter;
  private stopped = false;

  constructor(maxRecvBytes: number, private readonly stream: WatchStream, private readonly onBad: (err: EtcdError) => void) {
    this.splitter = new JsonStreamSplitter(REQUEST_CHARS_PER_RECV_BYTE * maxRecvBytes);
  }

  push(chunk: string): void {
    if (this.stopped) return;
    try {
      for (const text of this.splitter.push(chunk)) this.handle(text);
    } catch (err) {
      this.fail(err);
    }
  }

  end(): void {
    if (this.stopped) return;
    const rest = this.splitter.end();
    if (rest === undefined) return;
    try {
      this.handle(rest);
    } catch (err) {
      this.fail(err);
    }
  }

  private handle(text: string): void {
    if (this.stopped) return;
    const req = decodeRequest(text);
    if (req !== undefined) this.stream.handle(req);
  }

  private fail(err: unknown): void {
    this.stopped = true;
    const e = err instanceof EtcdError ? err : new EtcdError(GrpcCode.Unknown, err instanceof Error ? err.message : String(err));
    this.onBad(e);
  }
}

const STREAM_HEADERS = {
  ...CORS_HEADERS,
  'content-type': APPLICATION_JSON,
  'grpc-metadata-content-type': 'application/grpc',
} as const;

/** The POST form: hijacked response, chunked lines. */
function serveHttp(hub: WatchHub, req: IncomingMessage, body: Readable, res: ServerResponse, maxRecvBytes: number, live: Set<() => void>): void {
  let sentAny = false;
  const sink: StreamSink = {
    send(resp, written) {
      const line = `${watchResultJson(resp)}\n`;
      if (!sentAny) {
        sentAny = true;
        res.writeHead(200, STREAM_HEADERS);
      }
      res.write(line, () => written());
      return line.length;
    },
    close() {
      res.destroy();
    },
  };
  const stream = hub.openStream(sink);
  const closeAll = (): void => { stream.close(); res.end(); };
  live.add(closeAll);
  const reader = new RequestReader(maxRecvBytes, stream, (err) => {
    if (sentAny) return; // etcd stops reading requests; the stream goes on
    stream.close();
    const text = errorBody(err.message, err.grpc);
    res.writeHead(500, { ...CORS_HEADERS, 'content-type': APPLICATION_JSON, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  body.setEncoding('utf8');
  body.on('data', (chunk: string) => reader.push(chunk));
  body.on('end', () => reader.end());
  body.on('error', () => stream.close());
  res.on('close', () => {
    live.delete(closeAll);
    stream.close();
  });
  assert.ok(req.method === 'POST', 'the stream form is a POST');
}

/** The WebSocket form: one request per frame in, one result per frame out. */
function serveWebSocket(hub: WatchHub, ws: WebSocket, maxRecvBytes: number, live: Set<() => void>): void {
  let sentAny = false;
  const sink: StreamSink = {
    send(resp, written) {
      const text = watchResultJson(resp);
      sentAny = true;
      ws.send(text, () => written());
      return text.length;
    },
    close() {
      ws.terminate();
    },
  };
  const stream = hub.openStream(sink);
  const closeAll = (): void => { stream.close(); ws.close(1001, 'server stopping'); };
  live.add(closeAll);
  const reader = new RequestReader(maxRecvBytes, stream, (err) => {
    if (sentAny) return;
    stream.close();
    ws.send(errorBody(err.message, err.grpc), () => ws.terminate());
  });
  ws.on('message', (data, isBinary) => {
    const text = isBinary || !Buffer.isBuffer(data) ? Buffer.from(data as Buffer).toString('utf8') : data.toString('utf8');
    reader.push(`${text}\n`);
  });
  ws.on('close', () => {
    live.delete(closeAll);
    stream.close();
  });
  ws.on('error', () => stream.close());
}

// ---- the plugin ----


/**
 * The watch plugin for buildGateway's `services`: POST and WebSocket `{prefix}/watch`, served by
 * `hub` (one hub per member, shared by every listener and prefix).
 */
export function watchService(hub: WatchHub): GatewayPlugin {
  return async (app, { maxRecvBytes }) => {
    // The body is read as a stream of requests, not parsed whole (encapsulated to this plugin).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    const live = new Set<() => void>();
    app.post('/watch', async (req, reply) => {
      await hub.ready;
      reply.hijack();
      const body = (req.body ?? req.raw) as Readable;
      serveHttp(hub, req.raw, typeof body.on === 'function' ? body : req.raw, reply.raw, maxRecvBytes, live);
    });
    routeWebSocket(app.server, `${app.prefix}/watch`, REQUEST_CHARS_PER_RECV_BYTE * maxRecvBytes, (ws) => serveWebSocket(hub, ws, maxRecvBytes, live), hub.ready);
    // Streams never end by themselves: close them, or the server's close would wait forever.
    app.addHook('preClose', async () => {
      for (const close of [...live]) close();
    });
  };
}
