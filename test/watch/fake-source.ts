// A fake member for watch hub tests: an in-memory history that grows live (`write`, posted as
// a batch) or behind the hub's back (`restore`, as when a member installs a leader's snapshot),
// with readEvents/watchStatus answering from that history the way mvcc-apply does.

import type { KeyValue } from '../../src/api/types.js';
import type { ReadEventsReply, RevisionEvents, WatchStatusReply } from '../../src/server/messages.js';
import type { WatchSource } from '../../src/watch/hub.js';

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

export function kvOf(key: string, rev: number, valueBytes = 10): KeyValue {
  return { key: enc(key), value: new Uint8Array(valueBytes), createRevision: rev, modRevision: rev, version: 1, lease: 0n };
}

export class FakeSource implements WatchSource {
  readonly clusterId = 1n;
  readonly memberId = 2n;
  history: RevisionEvents[] = [];
  compactRevision = 0;
  /** readEvents calls so far (catch-up reads). */
  reads = 0;
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

  private append(keys: string[], valueBytes: number): RevisionEvents[] {
    const batch: RevisionEvents[] = keys.map((k, i) => ({
      revision: this.revision + 1 + i, events: [{ type: 'PUT', kv: kvOf(k, this.revision + 1 + i, valueBytes) }],
    }));
    this.history.push(...batch);
    return batch;
  }
  /** Applies revisions with one event each on `keys` (one revision per key), posted live. */
  write(keys: string[], valueBytes = 10): void {
    const batch = this.append(keys, valueBytes); // not inside ?.(): its arguments are skipped without a listener
    this.onEvents?.(batch, 1);
  }
  /** Revisions that arrive in a leader's snapshot: in the history, announced only as a restore. */
  restore(keys: string[], compactRevision = this.compactRevision): void {
    this.append(keys, 10);
    this.compactRevision = compactRevision;
    this.onRestore?.(this.revision);
  }
  async readEvents(fromRev: number, toRev: number, maxEvents: number): Promise<ReadEventsReply> {
    this.reads++;
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
