// The watch hub when its member replaces the store with a leader's snapshot: the revisions the
// snapshot skipped never arrive as a live batch, so the hub must move its synced watchers to
// catch-up from the restored history (nothing lost, nothing repeated, then live again), or
// cancel them with compact_revision when that history is compacted away, as etcd does. Over a
// fake member (an in-memory history) and a sink that writes at once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KeyValue } from '../../src/api/types.js';
import type { ReadEventsReply, RevisionEvents, WatchStatusReply } from '../../src/server/messages.js';
import { WatchHub } from '../../src/watch/hub.js';
import type { StreamSink, WatchSource } from '../../src/watch/hub.js';
import type { WatchResponse } from '../../src/watch/types.js';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

function kvOf(key: string, rev: number): KeyValue {
  return { key: enc(key), value: enc(`v${rev}`), createRevision: rev, modRevision: rev, version: 1, lease: 0n };
}

/** A member whose history can grow live (write) or behind the hub's back (restore). */
class RestoringSource implements WatchSource {
  readonly clusterId = 1n;
  readonly memberId = 2n;
  history: RevisionEvents[] = [];
  compactRevision = 0;
  private onEvents: ((r: RevisionEvents[], term: number) => void) | undefined;
  private onRestore: ((revision: number) => void) | undefined;

  subscribeEvents(l: (r: RevisionEvents[], term: number) => void): () => void {
    this.onEvents = l;
    return () => { this.onEvents = undefined; };
  }
  subscribeRestores(l: (revision: number) => void): () => void {
    this.onRestore = l;
    return () => { this.onRestore = undefined; };
  }
  get revision(): number { return this.history[this.history.length - 1]?.revision ?? 1; }
  private append(keys: string[]): RevisionEvents[] {
    const batch = keys.map((k, i) => ({ revision: this.revision + 1 + i, events: [{ type: 'PUT' as const, kv: kvOf(k, this.revision + 1 + i) }] }));
    this.history.push(...batch);
    return batch;
  }
  /** Applied and posted as a live batch. */
  write(keys: string[]): void {
    const batch = this.append(keys); // not inside ?.(): its arguments are skipped without a listener
    this.onEvents?.(batch, 1);
  }
  /** Arrives in a leader's snapshot: in the history, announced only as a restore. */
  restore(keys: string[], compactRevision = this.compactRevision): void {
    this.append(keys);
    this.compactRevision = compactRevision;
    this.onRestore?.(this.revision);
  }
  async readEvents(fromRev: number, toRev: number, maxEvents: number): Promise<ReadEventsReply> {
    await new Promise((r) => setImmediate(r));
    if (fromRev < this.compactRevision) return { type: 'readEvents', id: 0n, compactRevision: this.compactRevision };
    const revisions = this.history.filter((r) => r.revision >= fromRev && r.revision <= toRev).slice(0, maxEvents);
    const nextRev = revisions.length === 0 ? toRev + 1 : revisions[revisions.length - 1]!.revision + 1;
    return { type: 'readEvents', id: 0n, revisions, nextRev: Math.max(nextRev, fromRev) };
  }
  async watchStatus(): Promise<WatchStatusReply> {
    return { type: 'watchStatus', id: 0n, revision: this.revision, compactRevision: this.compactRevision, raftTerm: 1 };
  }
}

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

const revisionsOf = (src: RestoringSource, key: string): number[] =>
  src.history.filter((r) => r.events.some((e) => Buffer.from(e.kv.key).toString('latin1') === key)).map((r) => r.revision);

test('after a store restore, synced watchers get the skipped revisions from history, then live ones', async () => {
  const src = new RestoringSource();
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
  const src = new RestoringSource();
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
