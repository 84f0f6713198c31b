// Durability through real processes: a member killed with SIGKILL in the middle of a burst of
// puts keeps every put it acknowledged, with the revision it acknowledged, and no revision is
// missing. The WAL's own repair and corruption cases are driven through the real member too:
// a torn last record is dropped on start, a damaged older record stops the member with a reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTetcd, type AfterHook, type ServerHandle } from '../helpers/servers.js';
import { put, rangePrefix, unb64 } from '../helpers/kv-client.js';

/** Concurrent writers in the burst, and the bound on puts each may send. */
const WRITERS = 8;
const PUTS_PER_WRITER_MAX = 400;
/** Acknowledged puts after which the member is killed (the writers keep going meanwhile). */
const KILL_AFTER_ACKS = 300;

interface Ack {
  key: string;
  value: string;
  revision: number;
}

/** Writers put unique keys until the server dies or their bound is reached; returns the acks. */
async function burst(url: string, onAck: (n: number) => void): Promise<Ack[]> {
  const acks: Ack[] = [];
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    for (let i = 0; i < PUTS_PER_WRITER_MAX; i++) {
      const key = `burst/${w}/${String(i).padStart(4, '0')}`;
      const value = `v-${w}-${i}`;
      try {
        const { revision } = await put(url, key, value);
        acks.push({ key, value, revision });
        onAck(acks.length);
      } catch {
        return; // the member is gone: this put may or may not have been applied
      }
    }
  }));
  return acks;
}

async function restart(t: AfterHook, s: ServerHandle): Promise<ServerHandle> {
  return startTetcd({ t, dataDir: s.dataDir, clientPort: s.clientPort, peerPort: s.peerPort });
}

function assertAcksDurable(acks: Ack[], kvs: { key: string; value?: string; mod_revision?: string }[], revision: number): void {
  const byKey = new Map(kvs.map((kv) => [unb64(kv.key), kv]));
  for (const a of acks) {
    const kv = byKey.get(a.key);
    assert.ok(kv, `acknowledged put of ${a.key} at revision ${a.revision} was lost`);
    assert.equal(unb64(kv.value), a.value, `value of ${a.key}`);
    assert.equal(Number(kv.mod_revision), a.revision, `revision of ${a.key}`);
  }
  // Every key is written once, so the keys' revisions must be exactly 2..revision: no gaps.
  const revs = kvs.map((kv) => Number(kv.mod_revision)).sort((x, y) => x - y);
  assert.deepEqual(revs, Array.from({ length: revision - 1 }, (_, i) => i + 2), 'revisions have gaps');
}

function walFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'member', 'wal');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).sort().map((f) => path.join(dir, f));
}

test('kill -9 during a burst of puts loses no acknowledged put and leaves no revision gap', async (t) => {
  const s = await startTetcd({ t });
  let killed: Promise<void> | undefined;
  const acks = await burst(s.url, (n) => {
    if (n === KILL_AFTER_ACKS && !killed) killed = s.kill('SIGKILL');
  });
  await killed;
  assert.ok(acks.length >= KILL_AFTER_ACKS, `only ${acks.length} puts acknowledged`);

  const s2 = await restart(t, s);
  const { revision, kvs } = await rangePrefix(s2.url, 'burst/');
  assert.ok(revision >= Math.max(...acks.map((a) => a.revision)));
  assertAcksDurable(acks, kvs, revision);
});

test('a torn record at the WAL tail is dropped on start; acknowledged puts survive', async (t) => {
  const s = await startTetcd({ t });
  const acks: Ack[] = [];
  for (let i = 0; i < 50; i++) {
    const key = `burst/torn/${String(i).padStart(3, '0')}`;
    acks.push({ key, value: `v${i}`, ...(await put(s.url, key, `v${i}`)) });
  }
  await s.kill('SIGKILL');
  // Simulate a crash in the middle of writing one more record: append the first bytes of a
  // copy of the last record (length header and part of its payload), as a torn write leaves it.
  const last = walFiles(s.dataDir).at(-1)!;
  const bytes = fs.readFileSync(last);
  const end = lastRecordEnd(bytes);
  const tornCopy = bytes.subarray(end - 24, end - 3);
  fs.writeFileSync(last, Buffer.concat([bytes.subarray(0, end), tornCopy]));

  const s2 = await restart(t, s);
  const { revision, kvs } = await rangePrefix(s2.url, 'burst/');
  assertAcksDurable(acks, kvs, revision);
  assert.match(s2.output(), /torn|repair/i, 'the repair is logged');
});

test('a damaged record inside the WAL stops the member with a clear reason', async (t) => {
  const s = await startTetcd({ t });
  for (let i = 0; i < 20; i++) await put(s.url, `burst/c/${i}`, 'x'.repeat(100));
  await s.kill('SIGKILL');
  const first = walFiles(s.dataDir)[0]!;
  const bytes = fs.readFileSync(first);
  const end = lastRecordEnd(bytes);
  // A byte in the middle of the log (not in the last record) flips.
  const at = Math.floor(end / 2);
  bytes[at] = bytes[at]! ^ 0xff;
  fs.writeFileSync(first, bytes);
  await assert.rejects(restart(t, s), (err: Error) => {
    assert.match(err.message, /corrupt/i);
    assert.ok(err.message.includes(path.basename(first)), `the error names the file: ${err.message.slice(0, 2000)}`);
    return true;
  });
});

/** End of the written part of a (possibly preallocated, zero-filled) segment. */
function lastRecordEnd(bytes: Buffer): number {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return Math.ceil(end / 8) * 8;
}
