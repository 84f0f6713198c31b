// HTTP/1.1 keep-alive connections for the load generator, one request in flight each.
//
// Two implementations behind one interface, chosen with `--http`:
// - `raw` (default): a `net.Socket` per client, the request written as one string and the
//   answer parsed by the small incremental `ResponseParser` below (Content-Length and chunked
//   bodies, trailers, `Connection: close`). It does far less per request than `node:http`
//   (no header objects, no streams), which matters here: the generator shares the machine's
//   cores with the server, so every microsecond it burns is taken from the server.
// - `node`: `node:http` with a keep-alive Agent (maxSockets = clients per worker), as a
//   reference that the raw client's figures can be checked against.
//
// Both connect lazily, reconnect after an error or a `Connection: close`, and fail a request
// that waits longer than `requestTimeoutMs` for bytes by destroying the socket.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { BenchRequest } from './scenario.js';

export interface HttpAnswer {
  readonly status: number;
  readonly body: Buffer;
}

export interface HttpConnection {
  request(req: BenchRequest): Promise<HttpAnswer>;
  close(): void;
}

export type HttpClientKind = 'raw' | 'node';

/** A response head larger than this is an error (etcd's are ~400 bytes). */
const headBytesMax = 64 * 1024;
/** A response body larger than this is an error: bench answers are small. */
const bodyBytesMax = 64 * 1024 * 1024;

/** Network failure with a code for the error table (`ECONNREFUSED`, `timeout`, `parse`). */
export class NetError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export interface ParsedResponse {
  status: number;
  body: Buffer;
  /** The server said `Connection: close`: the socket must not be reused. */
  close: boolean;
}

type ParseState =
  | { kind: 'head' }
  | { kind: 'body'; status: number; close: boolean; length: number }
  | { kind: 'chunk-size'; status: number; close: boolean; parts: Buffer[] }
  | { kind: 'chunk-data'; status: number; close: boolean; parts: Buffer[]; size: number }
  | { kind: 'trailers'; status: number; close: boolean; parts: Buffer[] };

/**
 * Incremental HTTP/1.1 response parser. `push()` takes bytes as they arrive and returns the
 * responses completed by them. Worked example (chunked, as etcd answers errors):
 *   "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n" -> chunk-size
 *   "5f\r\n" -> chunk-data(95) ; 95 bytes + "\r\n" -> chunk-size ; "0\r\n" -> trailers
 *   "Grpc-Trailer-Content-Type: application/grpc\r\n" (skipped) ; "\r\n" -> emit, head
 */
export class ResponseParser {
  /** Unconsumed bytes; always starts at the boundary the current state expects. */
  private buf: Buffer = Buffer.alloc(0);
  private state: ParseState = { kind: 'head' };

  push(chunk: Buffer): ParsedResponse[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const done: ParsedResponse[] = [];
    for (;;) {
      const res = this.step();
      if (res === 'wait') return done;
      if (res !== 'more') done.push(res);
    }
  }

  /** One state transition: a response, 'more' (state advanced) or 'wait' (need bytes). */
  private step(): ParsedResponse | 'more' | 'wait' {
    const s = this.state;
    switch (s.kind) {
      case 'head': return this.stepHead();
      case 'body': {
        if (this.buf.length < s.length) return 'wait';
        const body = this.buf.subarray(0, s.length);
        this.buf = this.buf.subarray(s.length);
        this.state = { kind: 'head' };
        return { status: s.status, body, close: s.close };
      }
      case 'chunk-size': {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return this.waitLine();
        const size = parseInt(this.buf.toString('latin1', 0, eol).split(';')[0] ?? '', 16);
        if (!Number.isInteger(size) || size < 0 || size > bodyBytesMax) throw new NetError('parse', 'bad chunk size');
        this.buf = this.buf.subarray(eol + 2);
        this.state = size === 0 ? { ...s, kind: 'trailers' } : { ...s, kind: 'chunk-data', size };
        return 'more';
      }
      case 'chunk-data': {
        if (this.buf.length < s.size + 2) return 'wait';
        s.parts.push(this.buf.subarray(0, s.size));
        this.buf = this.buf.subarray(s.size + 2);
        this.state = { kind: 'chunk-size', status: s.status, close: s.close, parts: s.parts };
        return 'more';
      }
      case 'trailers': {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return this.waitLine();
        this.buf = this.buf.subarray(eol + 2);
        if (eol > 0) return 'more'; // a trailer field: not needed
        this.state = { kind: 'head' };
        return { status: s.status, body: Buffer.concat(s.parts), close: s.close };
      }
    }
  }

  private waitLine(): 'wait' {
    if (this.buf.length > headBytesMax) throw new NetError('parse', 'line too long');
    return 'wait';
  }

  private stepHead(): 'more' | 'wait' {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return this.waitLine();
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    this.buf = this.buf.subarray(end + 4);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (m === null) throw new NetError('parse', `bad status line: ${(lines[0] ?? '').slice(0, 80)}`);
    const status = Number(m[1]);
    let length = -1;
    let chunked = false;
    let close = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] ?? '';
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') chunked = value.includes('chunked');
      else if (name === 'connection') close = value.includes('close');
    }
    if (chunked) this.state = { kind: 'chunk-size', status, close, parts: [] };
    else if (length >= 0 && length <= bodyBytesMax) this.state = { kind: 'body', status, close, length };
    else if (status === 204 || status === 304) this.state = { kind: 'body', status, close, length: 0 };
    else throw new NetError('parse', `response without a usable length (status ${status})`);
    return 'more';
  }
}

/** One keep-alive socket; requests must not overlap (one in flight per client). */
export class RawConnection implements HttpConnection {
  private socket: net.Socket | undefined;
  private parser = new ResponseParser();
  private pending: { resolve: (a: HttpAnswer) => void; reject: (e: Error) => void } | undefined;
  private readonly host: string;
  private readonly port: number;
  private readonly hostHeader: string;

  constructor(url: string, private readonly requestTimeoutMs: number) {
    const u = new URL(url);
    assert.equal(u.protocol, 'http:', `only http endpoints are supported: ${url}`);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || 80);
    this.hostHeader = u.host;
  }

  request(req: BenchRequest): Promise<HttpAnswer> {
    assert.equal(this.pending, undefined, 'RawConnection: a request is already in flight');
    const socket = this.socket ?? this.connect();
    const body = req.body ?? '';
    const head = `${req.method} ${req.path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    return new Promise<HttpAnswer>((resolve, reject) => {
      this.pending = { resolve, reject };
      socket.write(head + body);
    });
  }

  close(): void {
    this.fail(new NetError('closed', 'connection closed'));
  }

  private connect(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    socket.setTimeout(this.requestTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('timeout', () => this.fail(new NetError('timeout', `no answer within ${this.requestTimeoutMs} ms`), socket));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new NetError(err.code ?? 'socket', err.message), socket));
    socket.on('close', () => this.fail(new NetError('ECONNRESET', 'connection closed by the server'), socket));
    this.socket = socket;
    this.parser = new ResponseParser();
    return socket;
  }

  private onData(socket: net.Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    let done: ParsedResponse[];
    try {
      done = this.parser.push(chunk);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)), socket);
      return;
    }
    for (const res of done) {
      const p = this.pending;
      if (p === undefined) {
        this.fail(new NetError('parse', 'answer without a request'), socket);
        return;
      }
      this.pending = undefined;
      if (res.close) this.drop(socket);
      p.resolve({ status: res.status, body: res.body });
    }
  }

  /** Fails the request in flight (if any) and drops the socket so the next request reconnects. */
  private fail(err: Error, from?: net.Socket): void {
    if (from !== undefined && from !== this.socket) return;
    if (this.socket !== undefined) this.drop(this.socket);
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }

  private drop(socket: net.Socket): void {
    if (this.socket === socket) this.socket = undefined;
    socket.destroy();
  }
}

/** `node:http` with a shared keep-alive agent. */
export class NodeHttpConnection implements HttpConnection {
  constructor(private readonly url: URL, private readonly agent: http.Agent, private readonly requestTimeoutMs: number) {}

  request(req: BenchRequest): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const body = req.body ?? '';
      const r = http.request({
        agent: this.agent,
        host: this.url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(this.url.port || 80),
        method: req.method,
        path: req.path,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: this.requestTimeoutMs,
      }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', (err: NodeJS.ErrnoException) => reject(new NetError(err.code ?? 'socket', err.message)));
      });
      r.on('timeout', () => r.destroy(new NetError('timeout', `no answer within ${this.requestTimeoutMs} ms`)));
      r.on('error', (err: NodeJS.ErrnoException) => reject(err instanceof NetError ? err : new NetError(err.code ?? 'socket', err.message)));
      r.end(body);
    });
  }

  close(): void {
    // The agent is shared; the owner destroys it with `closeAgent()`.
  }
}

/** Creates the connections of one worker: client i talks to `endpoints[i % n]`. */
export function connectionFactory(kind: HttpClientKind, clientsPerWorker: number, requestTimeoutMs: number): {
  open(url: string): HttpConnection;
  closeAll(): void;
} {
  assert.ok(clientsPerWorker >= 1, 'at least one client per worker');
  const agent = new http.Agent({ keepAlive: true, maxSockets: clientsPerWorker, maxFreeSockets: clientsPerWorker });
  const opened: HttpConnection[] = [];
  return {
    open(url) {
      const conn = kind === 'raw' ? new RawConnection(url, requestTimeoutMs) : new NodeHttpConnection(new URL(url), agent, requestTimeoutMs);
      opened.push(conn);
      return conn;
    },
    closeAll() {
      for (const c of opened) c.close();
      agent.destroy();
    },
  };
}
