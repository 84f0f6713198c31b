// Reading watch streams in the load workers: the HTTP form (`POST /v3/watch` answered with a
// head and then a chunked body of `{"result": WatchResponse}` lines, as etcd's gateway and tetcd
// send it) decoded incrementally into lines, and one result message read cheaply.
//
// Event messages are the hot path (one per watcher per put): they are scanned with indexOf for
// `watch_id`, each event's `key` and `mod_revision`, not parsed. That is safe because the gateway's
// JSON has a fixed shape: bytes are base64 (no quotes or backslashes inside strings) and int64s are
// quoted decimal strings. Everything else (created, canceled, errors) is rare and parsed whole.

import assert from 'node:assert/strict';

/** A response head larger than this is an error (etcd's is ~350 bytes). */
const headBytesMax = 64 * 1024;
/** A line (one watch response) longer than this is an error: the bench's events are small. */
const lineCharsMax = 4 * 1024 * 1024;

/**
 * Incremental decoder of a streamed HTTP/1.1 response into body lines. Worked example:
 *   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" -> status 200, chunked
 *   "8c\r\n{...140 chars...}\n\r\n" -> one line; "0\r\n\r\n" -> ended
 * A body with Content-Length (an error answer) or read to close is passed through the same way.
 */
export class HttpStreamDecoder {
  /** Bytes not yet consumed; starts at the boundary the current state expects. */
  private buf: Buffer = Buffer.alloc(0);
  private state: 'head' | 'size' | 'data' | 'identity' | 'ended' = 'head';
  /** Bytes left in the current chunk (state `data`) or the identity body (-1: read to close). */
  private left = 0;
  /** Text after the last newline. */
  private partial = '';
  status = 0;

  get ended(): boolean { return this.state === 'ended'; }

  push(chunk: Buffer): string[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const text: string[] = [];
    while (this.step(text)) { /* each step consumes bytes or changes state */ }
    return this.lines(text.join(''));
  }

  /** The unterminated last line, once the stream has ended (an error body has no newline). */
  rest(): string { return this.partial; }

  private lines(text: string): string[] {
    if (text === '') return [];
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    if (this.partial.length > lineCharsMax) throw new Error(`watch response line over ${lineCharsMax} chars`);
    return parts.filter((l) => l.trim() !== '');
  }

  private step(out: string[]): boolean {
    switch (this.state) {
      case 'head': return this.head();
      case 'size': {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return false;
        const size = parseInt(this.buf.toString('latin1', 0, eol).split(';')[0] ?? '', 16);
        if (!Number.isFinite(size) || size < 0) throw new Error('bad chunk size');
        this.buf = this.buf.subarray(eol + 2);
        if (size === 0) this.state = 'ended';
        else { this.state = 'data'; this.left = size; }
        return this.state !== 'ended';
      }
      case 'data': {
        if (this.buf.length < this.left + 2) {
          if (this.buf.length === 0 || this.left === 0) return false;
          const n = Math.min(this.left, this.buf.length);
          out.push(this.buf.toString('utf8', 0, n));
          this.left -= n;
          this.buf = this.buf.subarray(n);
          return false;
        }
        out.push(this.buf.toString('utf8', 0, this.left));
        this.buf = this.buf.subarray(this.left + 2);
        this.state = 'size';
        return true;
      }
      case 'identity': {
        if (this.buf.length === 0) return false;
        const n = this.left < 0 ? this.buf.length : Math.min(this.left, this.buf.length);
        out.push(this.buf.toString('utf8', 0, n));
        this.buf = this.buf.subarray(n);
        if (this.left >= 0) {
          this.left -= n;
          if (this.left === 0) this.state = 'ended';
        }
        return false;
      }
      case 'ended': return false;
    }
  }

  private head(): boolean {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.buf.length > headBytesMax) throw new Error('response head too large');
      return false;
    }
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (m === null) throw new Error(`bad status line: ${(lines[0] ?? '').slice(0, 80)}`);
    this.status = Number(m[1]);
    let chunked = false;
    let length = -1;
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(':');
      const name = l.slice(0, colon).trim().toLowerCase();
      const value = l.slice(colon + 1).trim().toLowerCase();
      if (name === 'transfer-encoding' && value.includes('chunked')) chunked = true;
      if (name === 'content-length') length = Number(value);
    }
    this.buf = this.buf.subarray(end + 4);
    this.state = chunked ? 'size' : length === 0 ? 'ended' : 'identity';
    this.left = chunked ? 0 : length;
    return this.state !== 'ended';
  }
}

export interface ScannedEvent {
  readonly keyB64: string;
  readonly modRevision: number;
}

export interface WatchMessage {
  /** The watch id as the gateway writes it ('0' when absent: zero values are left out). */
  readonly watchId: string;
  readonly created: boolean;
  readonly canceled: boolean;
  readonly events: readonly ScannedEvent[];
  /** A gRPC error object instead of a result (`{"error": ...}`), or a cancel reason. */
  readonly error: string | undefined;
}

function quotedAfter(text: string, marker: string, from: number): { value: string; end: number } | undefined {
  const i = text.indexOf(marker, from);
  if (i < 0) return undefined;
  const start = i + marker.length;
  const end = text.indexOf('"', start);
  assert.ok(end > start, `unterminated string after ${marker}`);
  return { value: text.slice(start, end), end };
}

/** One `{"result": WatchResponse}` (or `{"error": ...}`) message. */
export function scanWatchMessage(text: string): WatchMessage {
  const eventsAt = text.indexOf('"events":[');
  if (eventsAt < 0) return parseWhole(text);
  const id = quotedAfter(text.slice(0, eventsAt), '"watch_id":"', 0);
  const events: ScannedEvent[] = [];
  let at = eventsAt;
  for (;;) {
    const key = quotedAfter(text, '"kv":{"key":"', at);
    if (key === undefined) break;
    const rev = quotedAfter(text, '"mod_revision":"', key.end);
    assert.ok(rev !== undefined, 'an event kv without mod_revision');
    events.push({ keyB64: key.value, modRevision: Number(rev.value) });
    at = rev.end;
  }
  assert.ok(events.length > 0, 'an events array with no kv');
  return { watchId: id?.value ?? '0', created: false, canceled: false, events, error: undefined };
}

function parseWhole(text: string): WatchMessage {
  const j = JSON.parse(text) as { result?: Record<string, unknown>; error?: unknown; message?: unknown };
  if (j.result === undefined) {
    const why = typeof j.message === 'string' ? j.message : typeof j.error === 'string' ? j.error : text.slice(0, 100);
    return { watchId: '0', created: false, canceled: false, events: [], error: why };
  }
  const r = j.result;
  const canceled = r.canceled === true;
  return {
    watchId: typeof r.watch_id === 'string' ? r.watch_id : '0',
    created: r.created === true,
    canceled,
    events: [],
    error: canceled ? `canceled: ${typeof r.cancel_reason === 'string' ? r.cancel_reason : 'no reason'}` : undefined,
  };
}
