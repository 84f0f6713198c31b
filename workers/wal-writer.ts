// wal-writer actor: owns the WAL files of the member. It runs at its own pace: every append that
// arrives while it is busy (fsync blocks this thread, by design) waits in the mailbox, and the
// next round writes all of them and fsyncs once (group commit). Each round answers raft-node
// with the highest sequence number and log position that are now durable. A 'snapshot' message
// (log compaction) writes a snapshot marker and removes the segments it covers.

import assert from 'node:assert/strict';
import type { MessagePort } from 'node:worker_threads';
import { Coalescer, Outbox, actorBoot, assertNever, mainPort, receive } from '../src/actors/runtime.js';
import { createActorLogger } from '../src/server/log.js';
import { startCpuProfile } from '../src/server/profile.js';
import type { RaftFromWal, WalIn } from '../src/server/messages.js';
import { Wal } from '../src/wal/index.js';
import type { WalInit } from '../src/server/member-init.js';
import type { SnapshotMetadata } from '../src/raft/types.js';

const boot = actorBoot<WalInit>();
const stopProfile = startCpuProfile(boot.name);
const log = createActorLogger(boot.init.logLevel, boot.name, boot.init.memberName);
const raftPort = boot.ports.raft as MessagePort;
assert.ok(raftPort, 'wal-writer needs its raft port');
const toRaft = new Outbox<RaftFromWal>(raftPort);

const wal = Wal.open(boot.init.walDir, { syncMode: boot.init.fsync });
if (wal.repaired) log.warn({ repaired: wal.repaired }, 'wal: torn tail truncated on open (repaired)');

/** Appends waiting for the next round; drained completely by each round. */
let pending: Extract<WalIn, { type: 'append' }>[] = [];
/** Last entry position written (the tail of the log on disk once synced). */
let lastIndex = 0;
let lastTerm = 0;

function flush(): void {
  if (pending.length === 0) return;
  const batch = pending;
  pending = [];
  let snapshotIndex: number | undefined;
  for (const a of batch) {
    if (a.snapshot) {
      wal.saveSnapshot(a.snapshot.metadata);
      snapshotIndex = a.snapshot.metadata.index;
      lastIndex = a.snapshot.metadata.index;
      lastTerm = a.snapshot.metadata.term;
    }
    wal.append(a.entries, a.hardState);
    const tail = a.entries[a.entries.length - 1];
    if (tail) {
      lastIndex = tail.index;
      lastTerm = tail.term;
    }
  }
  wal.sync();
  const seq = batch[batch.length - 1]!.seq;
  toRaft.send(snapshotIndex === undefined
    ? { type: 'persisted', seq, index: lastIndex, term: lastTerm }
    : { type: 'persisted', seq, index: lastIndex, term: lastTerm, snapshotIndex });
}
const round = new Coalescer(flush);

/**
 * Log compaction: the store is durable at meta.index (mvcc-apply synced it before raft-node
 * asked), so a synced marker there lets every segment whose entries are all <= releaseTo go.
 * Appends queued before this message are written first: the marker never precedes its entries.
 */
function compact(meta: SnapshotMetadata, releaseTo: number): void {
  assert.ok(releaseTo <= meta.index && meta.index <= lastIndex, `snapshot at ${meta.index}, release ${releaseTo}, last ${lastIndex}`);
  flush();
  wal.saveSnapshot(meta);
  wal.sync();
  const removed = wal.releaseTo(releaseTo);
  log.info({ index: meta.index, term: meta.term, releaseTo, removed: removed.length }, 'wal: snapshot marker saved');
}

receive<WalIn>(raftPort, (msg) => {
  switch (msg.type) {
    case 'load': {
      const all = wal.readAll();
      const tail = all.entries[all.entries.length - 1];
      lastIndex = tail ? tail.index : (all.snapshot?.index ?? 0);
      lastTerm = tail ? tail.term : (all.snapshot?.term ?? 0);
      toRaft.send(all.snapshot
        ? { type: 'loaded', hardState: all.hardState, entries: all.entries, snapshot: { metadata: all.snapshot, data: new Uint8Array() } }
        : { type: 'loaded', hardState: all.hardState, entries: all.entries });
      return;
    }
    case 'append':
      pending.push(msg);
      round.schedule();
      return;
    case 'snapshot':
      compact(msg.metadata, msg.releaseTo);
      return;
    case 'close':
      flush();
      wal.close();
      return;
    default:
      assertNever(msg);
  }
});

receive<WalIn>(mainPort(), (msg) => {
  assert.equal(msg.type, 'close', 'main only closes the wal');
  flush();
  wal.close();
  stopProfile();
  mainPort().postMessage({ type: 'closed' });
});
