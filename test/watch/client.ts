// Watch clients for tests: the two stream forms etcd serves on /v3/watch (a POST whose answer is
// one `{"result": ...}` per line, and a WebSocket with one per frame), with the same surface:
// every response is collected in order, requests can be sent (WebSocket only: the POST form takes
// its requests in the body), reading can be paused (a slow client), and the connection closed.
// Plus the history oracle: the events of each revision, rebuilt from ranges at each revision.

import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { b64, post, unb64 } from '../helpers/kv-client.js';
import type { JsonKv } from '../helpers/kv-client.js';

export interface JsonEvent {
  type?: 'DELETE';
  kv: JsonKv;
  prev_kv?: JsonKv;
}

export interface JsonWatchResponse {
  header: { revision?: string };
  watch_id?: string;
  created?: boolean;
  canceled?: boolean;
  compact_revision?: string;
  cancel_reason?: string;
  fragment?: boolean;
  events?: JsonEvent[];
}

/** Bound on how long a test waits for a stream condition. */
export const WAIT_MS_MAX = 30_000;

export interface WatchConn {
  readonly responses: JsonWatchResponse[];
  /** Error bodies (a refused first request), raw. */
  readonly errors: unknown[];
  send(req: unknown): void;
  pause(): void;
  resume(): void;
  close(): void;
  readonly closed: boolean;
}

export function openHttpWatch(url: string, requests: unknown[]): WatchConn {
  const responses: JsonWatchResponse[] = [];
  const errors: unknown[] = [];
  let res: http.IncomingMessage | undefined;
  let closed = false;
  const req = http.request(`${url}/v3/watch`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (r) => {
    res = r;
    let buf = '';
    r.setEncoding('utf8');
    r.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() !== '') responses.push((JSON.parse(line) as { result: JsonWatchResponse }).result);
      }
    });
    r.on('end', () => {
      if (buf.trim() !== '') errors.push(JSON.parse(buf));
      closed = true;
    });
    r.on('close', () => { closed = true; });
  });
  req.on('error', () => { closed = true; });
  req.end(requests.map((q) => JSON.stringify(q)).join(''));
  return {
    responses, errors,
    send() { throw new Error('the POST form takes its requests in the body'); },
    pause() { res?.pause(); },
    resume() { res?.resume(); },
    close() { closed = true; req.destroy(); },
    get closed() { return closed; },
  };
}

export function openWsWatch(url: string, requests: unknown[]): WatchConn {
  const responses: JsonWatchResponse[] = [];
  const errors: unknown[] = [];
  let closed = false;
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v3/watch`);
  const queued: string[] = requests.map((q) => JSON.stringify(q));
  ws.on('open', () => { for (const q of queued.splice(0)) ws.send(q); });
  ws.on('message', (data) => {
    const parsed = JSON.parse(data.toString()) as { result?: JsonWatchResponse };
    if (parsed.result !== undefined) responses.push(parsed.result);
    else errors.push(parsed);
  });
  ws.on('close', () => { closed = true; });
  ws.on('error', () => { closed = true; });
  const socket = (): { pause(): void; resume(): void } | undefined => (ws as unknown as { _socket?: { pause(): void; resume(): void } })._socket;
  return {
    responses, errors,
    send(req) {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(req));
      else queued.push(JSON.stringify(req));
    },
    pause() { socket()?.pause(); },
    resume() { socket()?.resume(); },
    close() { closed = true; ws.terminate(); },
    get closed() { return closed; },
  };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = WAIT_MS_MAX): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every event of the responses, in order, with the response index it came in. */
export function eventsOf(responses: readonly JsonWatchResponse[], watchId = '0'): Array<JsonEvent & { resp: number }> {
  const out: Array<JsonEvent & { resp: number }> = [];
  responses.forEach((r, i) => {
    if ((r.watch_id ?? '0') !== watchId) return;
    for (const e of r.events ?? []) out.push({ ...e, resp: i });
  });
  return out;
}

// ---- the oracle ----

export interface OracleEvent {
  revision: number;
  type: 'PUT' | 'DELETE';
  key: string;
  kv: JsonKv;
  prevKv: JsonKv | undefined;
}

const ALL_KEYS = { key: b64('\0'), range_end: b64('\0') };

async function rangeAll(url: string, revision: number): Promise<Map<string, JsonKv>> {
  const a = await post(url, '/v3/kv/range', { ...ALL_KEYS, revision: String(revision) });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  const m = new Map<string, JsonKv>();
  for (const kv of (a.body.kvs ?? []) as JsonKv[]) m.set(unb64(kv.key), kv);
  return m;
}

/**
 * The events of revisions fromRev..toRev as the store's ranges show them: a key whose
 * mod_revision is r was put at r; a key present at r-1 and gone at r was deleted at r. Within a
 * revision events are in key order (compare watchers' events the same way).
 */
export async function historyFromRanges(url: string, fromRev: number, toRev: number): Promise<OracleEvent[]> {
  assert.ok(fromRev >= 2 && toRev >= fromRev - 1);
  const out: OracleEvent[] = [];
  let before = await rangeAll(url, fromRev - 1);
  for (let rev = fromRev; rev <= toRev; rev++) {
    const at = await rangeAll(url, rev);
    const evs: OracleEvent[] = [];
    for (const [key, kv] of at) {
      if (Number(kv.mod_revision) === rev) evs.push({ revision: rev, type: 'PUT', key, kv, prevKv: before.get(key) });
    }
    for (const [key, prev] of before) {
      if (!at.has(key)) evs.push({ revision: rev, type: 'DELETE', key, kv: { key: prev.key, mod_revision: String(rev) }, prevKv: prev });
    }
    evs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    out.push(...evs);
    before = at;
  }
  return out;
}
