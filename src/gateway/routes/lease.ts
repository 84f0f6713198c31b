// The lease service (etcdserverpb.Lease) over HTTP, as etcd 3.4's gateway serves it:
//
// - unary JSON routes: POST {prefix}/lease/grant, /lease/revoke, /lease/timetolive,
//   /lease/leases, plus the /kv/lease/revoke, /kv/lease/timetolive and /kv/lease/leases aliases
//   etcd 3.4 also answers (same handlers);
// - the keep-alive stream, POST {prefix}/lease/keepalive: the body is a sequence of
//   LeaseKeepAliveRequest JSON values read as they arrive, each answered by one
//   `{"result": LeaseKeepAliveResponse}` line, in request order. Unlike watch, the answer ENDS
//   when the body ends (etcd's stream returns on the client's EOF): `curl -d '{"ID":7}'` renews
//   once and returns; a client that keeps the body open renews as often as it writes. An empty
//   body gets 200 with an empty answer; a bad first request `{"error","message","code":2}` with
//   HTTP 500; a bad later one ends the reading (answers already due are still written). A failed
//   renewal (no leader, timeout) ends the stream with grpc-gateway's `{"error":{...}}` line.
// - the same path over WebSocket: one request per text frame in, one `{"result": ...}` per frame
//   out, so one socket keeps any number of leases alive.
//
// Checked against etcd 3.4: an unknown lease answers `{"result":{"header":..,"ID":"99"}}` (TTL 0
// left out), timetolive of an unknown lease `"TTL":"-1"` with the ID echoed, and revoke of an
// unknown lease 404 code 5.

import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import { EtcdError, GrpcCode, httpStatusOf } from '../../api/errors.js';
import type {
  LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseLeasesResponse,
  LeaseRevokeResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
} from '../../api/types.js';
import { MAX_LEASE_TTL_SEC } from '../../lease/codec.js';
import type { LeaseService } from '../../lease/service.js';
import {
  LeaseGrantRequestJson, LeaseIdRequestJson, LeaseLeasesRequestJson, LeaseTimeToLiveRequestJson,
} from '../../../schemas/lease.js';
import { parseMessage } from '../../../schemas/jsonpb.js';
import { JsonStreamSplitter } from '../../watch/json-stream.js';
import type { GatewayPlugin } from '../app.js';
import { routeWebSocket } from '../upgrade.js';
import { encodeBase64 } from '../base64.js';
import { headerJson } from '../codec.js';
import { decodeBody } from '../gojson.js';
import { APPLICATION_JSON, CORS_HEADERS, errorBody, postJson } from '../http.js';
import { varintSize } from '../proto-size.js';

/** One request's text may be this many times the gRPC receive limit (JSON overhead). */
const REQUEST_CHARS_PER_RECV_BYTE = 4;
/** Keep-alives of one stream being renewed at once; reading pauses beyond it. */
export const KEEPALIVE_INFLIGHT_PER_STREAM_MAX = 1024;
/**
 * Requests of one stream read but not started yet. Pausing a socket does not stop the requests
 * already read (one body chunk, or the frames a WebSocket had buffered) from arriving, so they wait
 * here; the bound is a guard against a transport that ignores pause: beyond it the stream fails.
 */
export const KEEPALIVE_BACKLOG_PER_STREAM_MAX = 65_536;

// ---- JSON <-> model ----

const int64Member = (name: string, v: bigint | number): string => (v === 0 || v === 0n ? '' : `,"${name}":"${v}"`);

/** An int64 TTL as a safe number: above the bound stays above it, below -1 means "minimum" as -1 does. */
function ttlOf(v: bigint | undefined): number {
  if (v === undefined) return 0;
  if (v > BigInt(MAX_LEASE_TTL_SEC)) return MAX_LEASE_TTL_SEC + 1;
  return v < -1n ? -1 : Number(v);
}

export function leaseGrantRequestFromJson(j: LeaseGrantRequestJson): LeaseGrantRequest {
  const req: LeaseGrantRequest = { TTL: ttlOf(j.TTL) };
  if (j.ID !== undefined && j.ID !== 0n) req.ID = j.ID;
  return req;
}

export function leaseGrantResponseJson(r: LeaseGrantResponse): string {
  const error = r.error !== undefined && r.error !== '' ? `,"error":${JSON.stringify(r.error)}` : '';
  return `{"header":${headerJson(r.header)}${int64Member('ID', r.ID)}${int64Member('TTL', r.TTL)}${error}}`;
}

export function leaseRevokeResponseJson(r: LeaseRevokeResponse): string {
  return `{"header":${headerJson(r.header)}}`;
}

export function leaseKeepAliveResponseJson(r: LeaseKeepAliveResponse): string {
  return `{"header":${headerJson(r.header)}${int64Member('ID', r.ID)}${int64Member('TTL', r.TTL)}}`;
}

export function leaseTimeToLiveResponseJson(r: LeaseTimeToLiveResponse): string {
  const keys = r.keys.length === 0 ? '' : `,"keys":[${r.keys.map((k) => `"${encodeBase64(k)}"`).join(',')}]`;
  return `{"header":${headerJson(r.header)}${int64Member('ID', r.ID)}${int64Member('TTL', r.TTL)}` +
    `${int64Member('grantedTTL', r.grantedTTL)}${keys}}`;
}

export function leaseLeasesResponseJson(r: LeaseLeasesResponse): string {
  const leases = r.leases.length === 0 ? '' : `,"leases":[${r.leases.map((l) => (l.ID === 0n ? '{}' : `{"ID":"${l.ID}"}`)).join(',')}]`;
  return `{"header":${headerJson(r.header)}${leases}}`;
}

const intSize = (field: number, v: bigint | undefined): number => (v === undefined || v === 0n ? 0 : 1 + varintSize(v));

// ---- the keep-alive stream, either form ----

/** Where a keep-alive session writes: an HTTP response or a WebSocket. */
interface KeepAliveSink {
  /** One answer (the `{"result": ...}` text); `written` once it is handed to the socket. */
  result(text: string, written: () => void): void;
  /** The stream failed after answers were sent: write grpc-gateway's error and end. */
  fail(err: EtcdError): void;
  /** A bad FIRST request: etcd's error body (code 2) and the end. */
  badFirst(err: EtcdError): void;
  /** No more answers. */
  end(): void;
  pause(): void;
  resume(): void;
}

/** grpc-gateway's in-stream error object. */
export function streamErrorJson(err: EtcdError): string {
  const http = httpStatusOf(err.grpc);
  return `{"error":{"grpc_code":${err.grpc},"http_code":${http},"message":${JSON.stringify(err.message)},"http_status":${JSON.stringify(STATUS_CODES[http] ?? '')}}}`;
}

function decodeKeepAlive(text: string): LeaseKeepAliveRequest {
  try {
    return { ID: parseMessage(LeaseIdRequestJson, decodeBody(text)).ID ?? 0n };
  } catch (err) {
    if (err instanceof EtcdError) throw new EtcdError(GrpcCode.Unknown, err.message);
    throw err;
  }
}

/**
 * One keep-alive stream: requests in, answers out in request order. Renewals run concurrently
 * (bounded), answers are written in order as they complete.
 */
class KeepAliveSession {
  private readonly splitter: JsonStreamSplitter;
  /** Answers in request order; the head is written as soon as it is settled. */
  private readonly queue: Array<{ text?: string; err?: EtcdError }> = [];
  /** Requests read while KEEPALIVE_INFLIGHT_PER_STREAM_MAX renewals were running (see its bound). */
  private readonly backlog: LeaseKeepAliveRequest[] = [];
  private answered = 0;
  private inputEnded = false;
  private finished = false;
  private paused = false;

  constructor(private readonly svc: LeaseService, private readonly sink: KeepAliveSink, maxRecvBytes: number) {
    this.splitter = new JsonStreamSplitter(REQUEST_CHARS_PER_RECV_BYTE * maxRecvBytes);
  }

  push(chunk: string): void {
    if (this.inputEnded) return;
    let texts: string[];
    try {
      texts = this.splitter.push(chunk);
    } catch (err) {
      this.bad(err);
      return;
    }
    for (const text of texts) {
      if (this.inputEnded) return;
      let req: LeaseKeepAliveRequest;
      try {
        req = decodeKeepAlive(text);
      } catch (err) {
        this.bad(err);
        return;
      }
      this.admit(req);
    }
  }

  /** The body ended: answer what is pending, then end. */
  end(): void {
    if (this.inputEnded) return;
    let rest: string | undefined;
    try {
      rest = this.splitter.end();
      if (rest !== undefined) this.admit(decodeKeepAlive(rest));
    } catch (err) {
      this.bad(err);
      return;
    }
    this.inputEnded = true;
    this.flush();
  }

  /** The client went away: nothing more is written. */
  close(): void {
    this.inputEnded = true;
    this.finished = true;
  }

  private bad(err: unknown): void {
    this.inputEnded = true;
    const e = err instanceof EtcdError ? err : new EtcdError(GrpcCode.Unknown, err instanceof Error ? err.message : String(err));
    this.backlog.length = 0; // nothing after a bad request is answered
    if (this.answered === 0 && this.queue.length === 0) {
      this.finished = true;
      this.sink.badFirst(e);
      return;
    }
    this.flush();
  }

  /** Starts a renewal, or parks it in the backlog while the in-flight bound is reached. */
  private admit(req: LeaseKeepAliveRequest): void {
    if (this.queue.length < KEEPALIVE_INFLIGHT_PER_STREAM_MAX && this.backlog.length === 0) {
      this.renew(req);
    } else if (this.backlog.length < KEEPALIVE_BACKLOG_PER_STREAM_MAX) {
      this.backlog.push(req);
    } else {
      this.backlog.length = 0;
      this.inputEnded = true;
      this.queue.push({ err: EtcdError.of('TooManyRequests') });
      this.flush();
      return;
    }
    if (this.queue.length >= KEEPALIVE_INFLIGHT_PER_STREAM_MAX && !this.paused) {
      this.paused = true;
      this.sink.pause();
    }
  }

  private renew(req: LeaseKeepAliveRequest): void {
    const slot: { text?: string; err?: EtcdError } = {};
    this.queue.push(slot);
    this.svc.leaseKeepAlive(req).then((r) => {
      slot.text = `{"result":${leaseKeepAliveResponseJson(r)}}`;
    }, (err: unknown) => {
      slot.err = err instanceof EtcdError ? err : new EtcdError(GrpcCode.Unknown, String(err));
    }).finally(() => this.flush());
  }

  /** Writes every settled answer at the head of the queue; ends when all is said. */
  private flush(): void {
    while (!this.finished && this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.text === undefined && head.err === undefined) break;
      this.queue.shift();
      if (head.err !== undefined) {
        this.finished = true;
        this.sink.fail(head.err);
        return;
      }
      this.answered += 1;
      this.sink.result(head.text!, () => undefined);
    }
    while (!this.finished && this.backlog.length > 0 && this.queue.length < KEEPALIVE_INFLIGHT_PER_STREAM_MAX) this.renew(this.backlog.shift()!);
    if (this.paused && this.backlog.length === 0 && this.queue.length < KEEPALIVE_INFLIGHT_PER_STREAM_MAX / 2) {
      this.paused = false;
      this.sink.resume();
    }
    if (!this.finished && this.inputEnded && this.queue.length === 0 && this.backlog.length === 0) {
      this.finished = true;
      this.sink.end();
    }
    assert.ok(this.queue.length <= KEEPALIVE_INFLIGHT_PER_STREAM_MAX + 1); // + the overflow error
    assert.ok(this.backlog.length <= KEEPALIVE_BACKLOG_PER_STREAM_MAX);
  }
}

const STREAM_HEADERS = {
  ...CORS_HEADERS,
  'content-type': APPLICATION_JSON,
  'grpc-metadata-content-type': 'application/grpc',
} as const;

/** The POST form: hijacked response, one line per answer, ended with the request body. */
function serveHttp(svc: LeaseService, body: Readable, res: ServerResponse, maxRecvBytes: number, live: Set<() => void>): void {
  let headSent = false;
  const head = (headers: Record<string, string>): void => {
    if (headSent) return;
    headSent = true;
    res.writeHead(200, headers);
  };
  const sink: KeepAliveSink = {
    result(text, written) {
      head(STREAM_HEADERS);
      res.write(`${text}\n`, () => written());
    },
    fail(err) {
      head(STREAM_HEADERS);
      res.end(`${streamErrorJson(err)}\n`);
    },
    badFirst(err) {
      const text = errorBody(err.message, err.grpc);
      res.writeHead(500, { ...CORS_HEADERS, 'content-type': APPLICATION_JSON, 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
    },
    end() {
      head({ ...CORS_HEADERS, 'content-type': APPLICATION_JSON }); // etcd: an empty answer
      res.end();
    },
    pause: () => body.pause(),
    resume: () => body.resume(),
  };
  const session = new KeepAliveSession(svc, sink, maxRecvBytes);
  const closeAll = (): void => { session.close(); res.destroy(); };
  live.add(closeAll);
  body.setEncoding('utf8');
  body.on('data', (chunk: string) => session.push(chunk));
  body.on('end', () => session.end());
  body.on('error', () => session.close());
  res.on('close', () => {
    live.delete(closeAll);
    session.close();
  });
}

/** The WebSocket form: one request per frame in, one answer per frame out. */
function serveWebSocket(svc: LeaseService, ws: WebSocket, maxRecvBytes: number, live: Set<() => void>): void {
  const sink: KeepAliveSink = {
    result(text, written) {
      ws.send(text, () => written());
    },
    fail(err) {
      ws.send(streamErrorJson(err), () => ws.close(1011, 'keep-alive failed'));
    },
    badFirst(err) {
      ws.send(errorBody(err.message, err.grpc), () => ws.terminate());
    },
    end() {
      ws.close(1000);
    },
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
  const session = new KeepAliveSession(svc, sink, maxRecvBytes);
  const closeAll = (): void => { session.close(); ws.close(1001, 'server stopping'); };
  live.add(closeAll);
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    session.push(`${buf.toString('utf8')}\n`);
  });
  ws.on('close', () => {
    live.delete(closeAll);
    session.close();
  });
  ws.on('error', () => session.close());
}

// ---- WebSocket upgrades ----


// ---- the plugin ----

/**
 * The lease plugin for buildGateway's `services`: the unary routes and the keep-alive stream
 * (POST and WebSocket) under each API prefix, served by `svc` (the member's lease service).
 */
export function leaseService(svc: LeaseService): GatewayPlugin {
  return async (app, { maxRecvBytes }) => {
    const grant = {
      schema: LeaseGrantRequestJson, sizeOf: (j: LeaseGrantRequestJson) => intSize(1, j.TTL) + intSize(2, j.ID),
      fromJson: leaseGrantRequestFromJson, call: (req: LeaseGrantRequest) => svc.leaseGrant(req), toJson: leaseGrantResponseJson,
    };
    const revoke = {
      schema: LeaseIdRequestJson, sizeOf: (j: LeaseIdRequestJson) => intSize(1, j.ID),
      fromJson: (j: LeaseIdRequestJson) => ({ ID: j.ID ?? 0n }), call: (req: { ID: bigint }) => svc.leaseRevoke(req),
      toJson: leaseRevokeResponseJson,
    };
    const timeToLive = {
      schema: LeaseTimeToLiveRequestJson, sizeOf: (j: LeaseTimeToLiveRequestJson) => intSize(1, j.ID) + (j.keys === true ? 2 : 0),
      fromJson: (j: LeaseTimeToLiveRequestJson): LeaseTimeToLiveRequest => (j.keys === true ? { ID: j.ID ?? 0n, keys: true } : { ID: j.ID ?? 0n }),
      call: (req: LeaseTimeToLiveRequest) => svc.leaseTimeToLive(req), toJson: leaseTimeToLiveResponseJson,
    };
    const leases = {
      schema: LeaseLeasesRequestJson, sizeOf: () => 0, fromJson: () => ({}), call: () => svc.leaseLeases(),
      toJson: leaseLeasesResponseJson,
    };
    postJson(app, '/lease/grant', grant, maxRecvBytes);
    for (const base of ['/lease', '/kv/lease']) {
      postJson(app, `${base}/revoke`, revoke, maxRecvBytes);
      postJson(app, `${base}/timetolive`, timeToLive, maxRecvBytes);
      postJson(app, `${base}/leases`, leases, maxRecvBytes);
    }
    registerKeepAlive(app, svc, maxRecvBytes);
  };
}

function registerKeepAlive(app: Parameters<GatewayPlugin>[0], svc: LeaseService, maxRecvBytes: number): void {
  const live = new Set<() => void>();
  // The keep-alive body is read as a stream of requests, not parsed whole: its own encapsulated
  // plugin, so the unary routes keep the app's parser.
  void app.register(async (sub) => {
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    sub.post('/lease/keepalive', async (req, reply) => {
      reply.hijack();
      const body = (req.body ?? req.raw) as Readable;
      serveHttp(svc, typeof body.on === 'function' ? body : req.raw, reply.raw, maxRecvBytes, live);
    });
  });
  routeWebSocket(app.server, `${app.prefix}/lease/keepalive`, REQUEST_CHARS_PER_RECV_BYTE * maxRecvBytes, (ws) => serveWebSocket(svc, ws, maxRecvBytes, live));
  app.addHook('preClose', async () => {
    for (const close of [...live]) close();
  });
}
