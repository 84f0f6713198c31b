// Throughput of the peer transport on loopback, both ends in this one process (so the figure
// includes encode + decode + CRC on one core): MsgApp of 100 entries x 128 bytes, sent with a
// bounded window of messages in flight; then heartbeats; then a 64 MiB snapshot. A script, not a
// test: `node --import tsx test/transport/measure.ts [seconds]`.

import { SeededRng } from '../../src/raft/rng.js';
import type { Entry, Message } from '../../src/raft/types.js';
import { messageFrameBytes } from '../../src/transport/codec.js';
import { baseMessage, mesh, randomBytes, startMember } from './helpers.js';
import type { Member } from './helpers.js';

const SECONDS = Number(process.argv[2] ?? 3);
/** Messages sent but not yet received; keeps the queue (4096 frames, 64 MiB) from overflowing. */
const WINDOW_MESSAGES = 512;
const BATCH_MESSAGES = 32;

async function stream(a: Member, b: Member, make: (i: number) => Message, seconds: number): Promise<{ msgs: number; wireBytes: number; sec: number }> {
  let sent = 0;
  let received = 0;
  const frameBytes = messageFrameBytes(make(0));
  b.t.onMessage(() => { received += 1; });
  const start = performance.now();
  const endAt = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    const loop = (): void => {
      if (performance.now() >= endAt) return resolve();
      while (sent - received < WINDOW_MESSAGES) {
        const batch: Message[] = [];
        for (let k = 0; k < BATCH_MESSAGES; k++) batch.push(make(++sent));
        a.t.send(batch);
      }
      setImmediate(loop);
    };
    loop();
  });
  const sec = (performance.now() - start) / 1000;
  if (a.t.peerStatus(b.id)!.droppedMessages > 0) throw new Error('messages were dropped; lower the window');
  return { msgs: received, wireBytes: received * frameBytes, sec };
}

async function snapshot(a: Member, b: Member, bytes: number): Promise<number> {
  const data = randomBytes(new SeededRng(9), bytes);
  const snap: Message = { ...baseMessage('MsgSnap', a.id, b.id), snapshot: { metadata: { index: 1, term: 1, confState: { voters: [a.id, b.id], learners: [] } }, data } };
  b.t.onMessage(() => undefined);
  const start = performance.now();
  const done = new Promise<void>((resolve) => a.t.onSnapshotStatus((_id, ok) => { if (!ok) throw new Error('snapshot failed'); resolve(); }));
  a.t.send([snap]);
  await done;
  return (performance.now() - start) / 1000;
}

async function main(): Promise<void> {
  const a = await startMember(1n);
  const b = await startMember(2n);
  mesh([a, b]);
  while (!a.t.peerStatus(2n)!.connected) await new Promise((r) => setTimeout(r, 10));
  const rng = new SeededRng(1);
  const entries: Entry[] = Array.from({ length: 100 }, (_, i) => ({ term: 1, index: i + 1, type: 0, data: randomBytes(rng, 128) }));
  const app = (i: number): Message => ({ ...baseMessage('MsgApp', 1n, 2n, i), entries });
  await stream(a, b, app, 0.5); // warm-up (JIT, socket buffers)
  const r = await stream(a, b, app, SECONDS);
  const mb = 1024 * 1024;
  console.log(`MsgApp 100 x 128 B: ${Math.round(r.msgs / r.sec)} msg/s, ${(r.msgs * 100 * 128 / mb / r.sec).toFixed(1)} MiB/s of entry data, ${(r.wireBytes / mb / r.sec).toFixed(1)} MiB/s on the wire (${messageFrameBytes(app(0))} B/frame)`);
  const h = await stream(a, b, (i) => baseMessage('MsgHeartbeat', 1n, 2n, i), SECONDS);
  console.log(`MsgHeartbeat: ${Math.round(h.msgs / h.sec)} msg/s`);
  const snapBytes = 64 * mb;
  const s = await snapshot(a, b, snapBytes);
  console.log(`snapshot 64 MiB: ${(snapBytes / mb / s).toFixed(1)} MiB/s (${s.toFixed(2)} s)`);
  await Promise.all([a.t.close(), b.t.close()]);
}

await main();
