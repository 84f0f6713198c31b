// Unit tests of the watch hub's parts: the matching index against a brute-force scan, the request
// splitter, fragmentation, and the hub itself over a fake member (an in-memory history) and fake
// sinks whose writes complete only when the test says so (a slow client): catch-up from the past,
// slow watchers moved aside and caught up with nothing lost or repeated, compaction cancels,
// progress answers that wait for sync, and cleanup.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STREAM_BUFFER_BYTES_MAX, WatchHub, fragmentEvents } from '../../src/watch/hub.js';
import type { StreamSink } from '../../src/watch/hub.js';
import { FakeSource, kvOf } from './fake-source.js';
import { JsonStreamSplitter } from '../../src/watch/json-stream.js';
import { OPEN_END, RangeIndex } from '../../src/watch/range-index.js';
import type { WatchEvent, WatchResponse } from '../../src/watch/types.js';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

test('RangeIndex matches exactly what a scan of every watcher matches', () => {
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const key = (): string => String.fromCharCode(97 + rnd(6)) + (rnd(2) ? String.fromCharCode(97 + rnd(6)) : '');
  const idx = new RangeIndex<number>();
  const live = new Map<number, { k: string; e: string | undefined }>();
  for (let step = 0; step < 4000; step++) {
    if (live.size < 200 && rnd(3) > 0) {
      const k = key();
      const kind = rnd(3);
      const e = kind === 0 ? undefined : kind === 1 ? OPEN_END : key();
      idx.add(k, e, step);
      live.set(step, { k, e });
    } else if (live.size > 0) {
      const ids = [...live.keys()];
      const id = ids[rnd(ids.length)]!;
      const w = live.get(id)!;
      assert.ok(idx.remove(w.k, w.e, id));
      live.delete(id);
    }
    const probe = key();
    const got: number[] = [];
    idx.match(probe, (id) => got.push(id));
    const want = [...live].filter(([, w]) => (w.e === undefined ? probe === w.k : probe >= w.k && probe < w.e)).map(([id]) => id);
    assert.deepEqual(got.sort((a, b) => a - b), want.sort((a, b) => a - b), `step ${step} key ${probe}`);
  }
  for (const [id, w] of live) assert.ok(idx.remove(w.k, w.e, id));
  assert.equal(idx.size, 0);
  assert.equal(idx.nodeCount, 0);
});

test('JsonStreamSplitter cuts concatenated values at any chunk boundary', () => {
  const text = '{"a":"}{\\""} [1,{"b":[]}]\n{"c":1}garbage {';
  for (let cut = 0; cut <= text.length; cut++) {
    const s = new JsonStreamSplitter(1000);
    const out = [...s.push(text.slice(0, cut)), ...s.push(text.slice(cut))];
    assert.deepEqual(out, ['{"a":"}{\\""}', '[1,{"b":[]}]', '{"c":1}', 'garbage'], `cut at ${cut}`);
    assert.equal(s.end(), '{');
  }
  assert.throws(() => new JsonStreamSplitter(10).push('{"aaaaaaaaaaaa'), RangeError);
});

test('fragmentEvents splits by size and never returns an empty fragment', () => {
  const ev = (n: number): WatchEvent => ({ type: 'PUT', kv: kvOf('k', n, 100) });
  const parts = fragmentEvents([ev(2), ev(3), ev(4)], 200);
  assert.equal(parts.length, 3);
  assert.deepEqual(fragmentEvents([ev(2), ev(3)], 10_000).map((p) => p.length), [2]);
});

// ---- the hub over a fake member ----

/** A sink whose writes complete only on `flush()` while `stalled`. */
class FakeSink implements StreamSink {
  readonly got: WatchResponse[] = [];
  stalled = false;
  private pending: Array<() => void> = [];
  closed: string | undefined;
  send(resp: WatchResponse, written: () => void): number {
    this.got.push(resp);
    const bytes = 100 + resp.events.reduce((n, e) => n + e.kv.value.length, 0);
    if (this.stalled) this.pending.push(written);
    else written();
    return bytes;
  }
  close(reason: string): void { this.closed = reason; }
  flush(): void {
    this.stalled = false;
    for (const w of this.pending.splice(0)) w();
  }
  revisions(watchId = 0n): number[] {
    return this.got.filter((r) => r.watchId === watchId).flatMap((r) => r.events.map((e) => e.kv.modRevision));
  }
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await tick();
  assert.ok(cond(), 'condition not reached');
}

test('a watcher from the past catches up from history, then follows live batches', async () => {
  const src = new FakeSource();
  for (let i = 0; i < 30; i++) src.write(['a', 'b']);
  const hub = new WatchHub(src, { progressNotifyIntervalMs: 0 });
  await hub.ready;
  const sink = new FakeSink();
  const s = hub.openStream(sink);
  s.handle({ createRequest: { key: enc('a'), startRevision: 2 } });
  assert.equal(sink.got[0]!.created, true);
  await until(() => hub.stats().synced === 1);
  src.write(['a', 'b', 'a']);
  const want = src.history.filter((r) => r.events[0]!.kv.key[0] === 97).map((r) => r.revision);
  assert.deepEqual(sink.revisions(), want);
  s.close();
  assert.deepEqual({ ...hub.stats(), revision: 0, eventsSent: 0, catchupReads: 0 }, {
    streams: 0, watchers: 0, synced: 0, unsynced: 0, indexNodes: 0, revision: 0, eventsSent: 0, slowWatcherMoves: 0,
    catchupReads: 0, compactedCancels: 0,
  });
  hub.close();
});

test('a slow stream is moved to catch-up with a bounded buffer and loses nothing', async () => {
  const src = new FakeSource();
  const hub = new WatchHub(src, { progressNotifyIntervalMs: 0 });
  await hub.ready;
  const slow = new FakeSink();
  const fast = new FakeSink();
  const ss = hub.openStream(slow);
  const fs = hub.openStream(fast);
  ss.handle({ createRequest: { key: enc('k'), rangeEnd: enc('l') } });
  fs.handle({ createRequest: { key: enc('k'), rangeEnd: enc('l') } });
  slow.stalled = true;
  const valueBytes = 64 * 1024;
  for (let i = 0; i < 100; i++) src.write([`k${i % 5}`], valueBytes);
  assert.ok(hub.stats().slowWatcherMoves >= 1, 'the slow watcher was moved aside');
  const buffered = slow.got.reduce((n, r) => n + r.events.length * valueBytes, 0);
  assert.ok(buffered <= STREAM_BUFFER_BYTES_MAX + 2 * valueBytes, `slow stream buffered ${buffered} bytes`);
  const all = src.history.map((r) => r.revision);
  assert.deepEqual(fast.revisions(), all, 'the fast stream is not held up');
  slow.flush();
  await until(() => slow.revisions().length === all.length);
  assert.deepEqual(slow.revisions(), all);
  await until(() => hub.stats().synced === 2);
  src.write(['k9']);
  assert.equal(slow.revisions().at(-1), src.revision);
  hub.close();
  assert.equal(hub.stats().watchers, 0);
});

test('a start below the compaction point is canceled with compact_revision', async () => {
  const src = new FakeSource();
  for (let i = 0; i < 10; i++) src.write(['a']);
  src.compactRevision = 6;
  const hub = new WatchHub(src, { progressNotifyIntervalMs: 0 });
  await hub.ready;
  const sink = new FakeSink();
  const s = hub.openStream(sink);
  s.handle({ createRequest: { key: enc('a'), startRevision: 3, watchId: 4n } });
  s.handle({ createRequest: { key: enc('a'), startRevision: 6, watchId: 5n } });
  await until(() => sink.got.some((r) => r.canceled === true));
  const c = sink.got.find((r) => r.canceled === true)!;
  assert.equal(c.watchId, 4n);
  assert.equal(c.compactRevision, 6);
  assert.equal(c.header.revision, 0);
  await until(() => sink.revisions(5n).length === 6);
  assert.deepEqual(sink.revisions(5n), [6, 7, 8, 9, 10, 11]);
  assert.equal(hub.stats().watchers, 1);
  hub.close();
});

test('progress: a request waits until the stream is synced; notify goes to synced watchers', async () => {
  const src = new FakeSource();
  for (let i = 0; i < 5; i++) src.write(['a']);
  const hub = new WatchHub(src, { progressNotifyIntervalMs: 20 });
  await hub.ready;
  const sink = new FakeSink();
  const s = hub.openStream(sink);
  s.handle({ createRequest: { key: enc('a'), startRevision: 2, progressNotify: true } });
  s.handle({ progressRequest: {} });
  await until(() => sink.got.some((r) => r.watchId === -1n));
  const at = sink.got.findIndex((r) => r.watchId === -1n);
  assert.deepEqual(sink.revisions().slice(-1), [6], 'events up to the bookmark came first');
  assert.ok(sink.got.slice(0, at).some((r) => r.events.length > 0));
  await until(() => sink.got.some((r) => r.watchId === 0n && r.events.length === 0 && r.created !== true));
  s.handle({ createRequest: { key: enc('b'), watchId: 0n } });
  s.handle({ createRequest: { key: enc('b'), watchId: 9n } });
  s.handle({ createRequest: { key: enc('b'), watchId: 9n } });
  assert.equal(sink.got.at(-1)!.cancelReason, 'mvcc: duplicate watch ID provided on the WatchStream');
  s.handle({ cancelRequest: { watchId: 9n } });
  assert.equal(sink.got.at(-1)!.canceled, true);
  s.handle({ cancelRequest: { watchId: 99n } });
  assert.equal(sink.got.at(-1)!.watchId, 9n, 'an unknown id gets no answer');
  hub.close();
});
