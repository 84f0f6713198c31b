// The watch hub when its member replaces the store with a leader's snapshot: the revisions the
// snapshot skipped never arrive as a live batch, so the hub must move its synced watchers to
// catch-up from the restored history (nothing lost, nothing repeated, then live again), or
// cancel them with compact_revision when that history is compacted away, as etcd does. Over a
// fake member (an in-memory history) and a sink that writes at once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WatchHub } from '../../src/watch/hub.js';
import type { StreamSink } from '../../src/watch/hub.js';
import { FakeSource } from './fake-source.js';
import type { WatchResponse } from '../../src/watch/types.js';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

class Sink implements StreamSink {
  readonly got: WatchResponse[] = [];
  send(resp: WatchResponse, written: () => void): number {
    this.got.push(resp);
    written();
    return 100;
  }
  close(): void {}
  revisions(watchId: bigint): number[] {
    return this.got.filter((r) => r.watchId === watchId).flatMap((r) => r.events.map((e) => e.kv.modRevision));
  }
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'condition not reached');
}

const revisionsOf = (src: FakeSource, key: string): number[] =>
  src.history.filter((r) => r.events.some((e) => Buffer.from(e.kv.key).toString('latin1') === key)).map((r) => r.revision);

test('after a store restore, synced watchers get the skipped revisions from history, then live ones', async () => {
  const src = new FakeSource();
  src.write(['a', 'b', 'a']);
  const hub = new WatchHub(src, { progressNotifyIntervalMs: 0 });
  await hub.ready;
  const sink = new Sink();
  const s = hub.openStream(sink);
  s.handle({ createRequest: { key: enc('a'), watchId: 1n } });
  s.handle({ createRequest: { key: enc('a'), rangeEnd: enc('c'), watchId: 2n } });
  // A future start: stays waiting across the restore, then gets exactly its revisions.
  s.handle({ createRequest: { key: enc('b'), startRevision: 9, watchId: 3n } });
  assert.equal(hub.stats().synced, 3);
  const before = src.revision;
  src.write(['a']);
  src.restore(['a', 'b', 'a', 'b', 'a', 'b']); // revisions before+2 .. before+7, never live
  assert.equal(hub.stats().synced, 0, 'every synced watcher moved to catch-up');
  await until(() => hub.stats().synced === 3);
  src.write(['b', 'a']);
  const after = (key: string): number[] => revisionsOf(src, key).filter((r) => r > before);
  assert.deepEqual(sink.revisions(1n), after('a'));
  assert.deepEqual(sink.revisions(2n), [...after('a'), ...after('b')].sort((x, y) => x - y));
  assert.deepEqual(sink.revisions(3n), revisionsOf(src, 'b').filter((r) => r >= 9));
  assert.ok(!sink.got.some((r) => r.canceled === true));
  hub.close();
});

test('after a store restore whose history is compacted past a watcher, it is canceled with compact_revision', async () => {
  const src = new FakeSource();
  src.write(['a']);
  const hub = new WatchHub(src, { progressNotifyIntervalMs: 0 });
  await hub.ready;
  const sink = new Sink();
  const s = hub.openStream(sink);
  s.handle({ createRequest: { key: enc('a'), watchId: 7n } });
  const from = src.revision + 1;
  src.restore(['a', 'a', 'a', 'a'], from + 2);
  await until(() => sink.got.some((r) => r.canceled === true));
  const c = sink.got.find((r) => r.canceled === true)!;
  assert.equal(c.watchId, 7n);
  assert.equal(c.compactRevision, from + 2);
  assert.deepEqual(sink.revisions(7n), [], 'no event from a history with a hole');
  assert.equal(hub.stats().watchers, 0);
  hub.close();
});
