// etcd's watch guarantees, checked over real HTTP and WebSocket streams against a real tetcd
// process: random puts, deletes and txns on a few keys and prefixes while many watchers observe
// (single keys, prefixes, every key, filters, prev_kv; some slow readers, some reconnecting from
// their last seen revision + 1, some starting in the past). Every watcher's events must equal the
// history rebuilt from ranges at each revision: ordered, unique, no gaps, one response per
// revision (atomic), resumable. Then a progress request must bookmark past every event seen.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { b64, post } from '../helpers/kv-client.js';
import { startTetcd } from '../helpers/servers.js';
import { eventsOf, historyFromRanges, openHttpWatch, openWsWatch, waitFor } from './client.js';
import type { JsonWatchResponse, OracleEvent, WatchConn } from './client.js';

const OPS_TOTAL = 360;
const WRITERS = 4;
const KEYS = ['a/1', 'a/2', 'a/3', 'b/1', 'b/2', 'c'];
const VALUE_BYTES_MAX = 16 * 1024;

/** A seeded RNG (mulberry32), so that a failure can be replayed with the printed seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Spec {
  name: string;
  ws: boolean;
  key: string;
  end?: string;
  filters?: string[];
  prevKv?: boolean;
  past?: boolean;
  slow?: boolean;
  reconnect?: boolean;
}

interface Watch {
  spec: Spec;
  conn: WatchConn;
  startRev: number;
  /** Responses of finished connections (reconnecting watchers), then the live one's. */
  done: JsonWatchResponse[][];
  reconnects: number;
}

function createRequest(s: Spec, startRev: number | undefined): unknown {
  const req: Record<string, unknown> = { key: b64(s.key) };
  if (s.end !== undefined) req.range_end = b64(s.end);
  if (s.filters) req.filters = s.filters;
  if (s.prevKv) req.prev_kv = true;
  if (startRev !== undefined) req.start_revision = String(startRev);
  return { create_request: req };
}

function specs(): Spec[] {
  const out: Spec[] = [];
  const shapes: Array<Omit<Spec, 'name' | 'ws'>> = [
    { key: 'a/1' }, { key: 'c', prevKv: true }, { key: 'a/', end: 'a0' }, { key: 'b/', end: 'b0', prevKv: true },
    { key: '\0', end: '\0' }, { key: 'b', end: '\0' }, { key: 'a/', end: 'a0', filters: ['NOPUT'] },
    { key: '\0', end: '\0', filters: ['NODELETE'], prevKv: true },
  ];
  shapes.forEach((shape, i) => {
    for (const ws of [false, true]) {
      out.push({ ...shape, ws, name: `${ws ? 'ws' : 'http'}-${i}` });
      out.push({ ...shape, ws, name: `${ws ? 'ws' : 'http'}-${i}-past`, past: true, slow: i % 2 === 0 });
      out.push({ ...shape, ws, name: `${ws ? 'ws' : 'http'}-${i}-re`, reconnect: true, slow: i % 3 === 0 });
    }
  });
  return out;
}

async function write(url: string, r: () => number): Promise<void> {
  const pick = (): string => KEYS[Math.floor(r() * KEYS.length)]!;
  const value = (): string => b64('v'.repeat(1 + Math.floor(r() * VALUE_BYTES_MAX)));
  const x = r();
  let a;
  if (x < 0.55) a = await post(url, '/v3/kv/put', { key: b64(pick()), value: value() });
  else if (x < 0.7) a = await post(url, '/v3/kv/deleterange', { key: b64(pick()) });
  else if (x < 0.75) a = await post(url, '/v3/kv/deleterange', { key: b64('a/'), range_end: b64('a0') });
  else {
    const keys = [...new Set([pick(), pick(), pick()])];
    const success = keys.map((k, i) => (i === 2 ? { request_delete_range: { key: b64(k) } } : { request_put: { key: b64(k), value: value() } }));
    a = await post(url, '/v3/kv/txn', { success });
  }
  assert.equal(a.status, 200, JSON.stringify(a.body));
}

function startRevOf(w: Watch): number {
  return w.startRev;
}

/** What `spec` must see of the history, in order. */
function expected(spec: Spec, history: readonly OracleEvent[], from: number): string[] {
  return history.filter((e) => {
    if (e.revision < from) return false;
    if (spec.filters?.includes(e.type === 'PUT' ? 'NOPUT' : 'NODELETE')) return false;
    if (spec.end === undefined) return e.key === spec.key;
    return e.key >= spec.key && (spec.end === '\0' || e.key < spec.end);
  }).map((e) => describe(e.revision, e.type, e.key, e.kv.value, spec.prevKv ? e.prevKv?.value ?? '-' : undefined));
}

function describe(rev: number, type: string, key: string, value: string | undefined, prev: string | undefined): string {
  return `${rev} ${type} ${key} ${(value ?? '').length}:${(value ?? '').slice(-12)}${prev === undefined ? '' : ` prev ${prev.length}:${prev.slice(-12)}`}`;
}

/** The watcher's events in the oracle's form; checks atomicity (one response per revision). */
function observed(w: Watch): string[] {
  const out: Array<{ rev: number; key: string; text: string }> = [];
  for (const responses of [...w.done, w.conn.responses]) {
    const seen = new Map<number, number>();
    for (const e of eventsOf(responses)) {
      const rev = Number(e.kv.mod_revision);
      const first = seen.get(rev);
      assert.ok(first === undefined || first === e.resp, `${w.spec.name}: revision ${rev} split over responses`);
      seen.set(rev, e.resp);
      const key = Buffer.from(e.kv.key, 'base64').toString();
      out.push({ rev, key, text: describe(rev, e.type ?? 'PUT', key, e.kv.value, w.spec.prevKv ? e.prev_kv?.value ?? '-' : undefined) });
    }
  }
  // Within a revision the oracle is in key order; across revisions order must already hold.
  for (let i = 1; i < out.length; i++) assert.ok(out[i]!.rev >= out[i - 1]!.rev, `${w.spec.name}: revisions out of order`);
  out.sort((a, b) => a.rev - b.rev || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out.map((o) => o.text);
}

function lastSeen(responses: readonly JsonWatchResponse[]): number | undefined {
  const evs = eventsOf(responses);
  const last = evs[evs.length - 1];
  return last === undefined ? undefined : Number(last.kv.mod_revision);
}

test('watch guarantees over HTTP and WebSocket streams', { timeout: 90_000 }, async (t) => {
  const seed = Number(process.env.WATCH_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed}`);
  const r = rng(seed);
  const server = await startTetcd({ t });
  const url = server.url;
  for (let i = 0; i < 20; i++) await write(url, r); // some history for the "past" watchers
  const head = Number((await post(url, '/v3/kv/range', { key: b64('x') })).body.header.revision);

  const open = (spec: Spec, start: number | undefined): WatchConn => (spec.ws ? openWsWatch : openHttpWatch)(url, [createRequest(spec, start)]);
  const watches: Watch[] = [];
  for (const spec of specs()) {
    const start = spec.past ? 2 + Math.floor(r() * (head - 2)) : undefined;
    watches.push({ spec, conn: open(spec, start), startRev: start ?? -1, done: [], reconnects: 0 });
  }
  await waitFor('created answers', () => watches.every((w) => w.conn.responses.some((x) => x.created)));
  for (const w of watches) {
    if (w.startRev < 0) w.startRev = Number(w.conn.responses.find((x) => x.created)!.header.revision) + 1;
  }

  let writes = 0;
  const reconnectTimer = setInterval(() => {
    for (const w of watches) {
      if (!w.spec.reconnect || w.reconnects >= 3 || r() < 0.6) continue;
      // What arrives after close() is dropped: the snapshot is what this client saw.
      const seen = w.conn.responses.slice();
      const last = lastSeen(seen);
      if (last === undefined) continue;
      w.conn.close();
      w.done.push(seen);
      w.conn = open(w.spec, last + 1);
      w.reconnects++;
    }
  }, 150);
  const slow = watches.filter((w) => w.spec.slow);
  const slowTimer = setInterval(() => {
    for (const w of slow) {
      if (r() < 0.5) w.conn.pause();
      else w.conn.resume();
    }
  }, 300);
  try {
    await Promise.all(Array.from({ length: WRITERS }, async () => {
      while (writes < OPS_TOTAL) {
        writes++;
        await write(url, r);
      }
    }));
  } finally {
    clearInterval(reconnectTimer);
    clearInterval(slowTimer);
  }
  for (const w of slow) w.conn.resume();
  const last = Number((await post(url, '/v3/kv/range', { key: b64('x') })).body.header.revision);
  const history = await historyFromRanges(url, 2, last);

  for (const w of watches) {
    const want = expected(w.spec, history, startRevOf(w));
    await waitFor(`${w.spec.name} to see ${want.length} events`, () => observed(w).length >= want.length);
    assert.deepEqual(observed(w), want, `${w.spec.name} (start ${w.startRev}, ${w.reconnects} reconnects)`);
  }

  // Bookmark: a progress answer comes after everything up to its revision.
  const wsw = watches.find((w) => w.spec.ws && !w.spec.reconnect)!;
  wsw.conn.send({ progress_request: {} });
  await waitFor('progress answer', () => wsw.conn.responses.some((x) => x.watch_id === '-1'));
  const progress = wsw.conn.responses.find((x) => x.watch_id === '-1')!;
  assert.ok(Number(progress.header.revision) >= last, 'progress revision covers every write');
  for (const w of watches) w.conn.close();
});
