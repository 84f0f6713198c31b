// Measures the WAL on this machine's disk (not a test: figures vary by machine, so they are printed,
// never asserted). Run: node --import tsx test/wal/measure.ts [dir-on-the-disk-to-measure]
//
//   1. fdatasync latency: one 4 KiB append + sync, median and p99 of 200, through the Wal with and
//      without preallocation, and with raw fs calls (the basis of the preallocation default).
//   2. Throughput: appends/s of 100-byte entries with one sync per 1, 10 and 100 entries.
//   3. Recovery: time to open() and replay a 128 MiB WAL of 100-byte entries.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Entry } from '../../src/raft/types.js';
import { Wal, type WalOptions } from '../../src/wal/wal.js';

const SAMPLES = 200;
const THROUGHPUT_RUN_MS = 2000;
const root = fs.mkdtempSync(path.join(process.argv[2] ?? os.tmpdir(), 'tetcd-wal-measure-'));

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function walLatency(name: string, opts: WalOptions): void {
  const dir = path.join(root, name);
  const wal = Wal.open(dir, opts);
  const data = new Uint8Array(4096 - 32).fill(7); // ~4 KiB record with its header
  const times: number[] = [];
  for (let i = 1; i <= SAMPLES; i++) {
    const t0 = nowUs();
    wal.append([{ index: i, term: 1, type: 0, data }]);
    wal.sync();
    times.push(nowUs() - t0);
  }
  wal.close();
  console.log(`${name.padEnd(34)} p50 ${quantile(times, 0.5)} us  p99 ${quantile(times, 0.99)} us`);
}

function rawLatency(name: string, preallocate: boolean): void {
  const fd = fs.openSync(path.join(root, name), 'w+');
  if (preallocate) fs.writeSync(fd, Buffer.alloc(SAMPLES * 4096), 0, SAMPLES * 4096, 0);
  if (preallocate) fs.fdatasyncSync(fd);
  const buf = Buffer.alloc(4096, 7);
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = nowUs();
    fs.writeSync(fd, buf, 0, buf.length, i * 4096);
    fs.fdatasyncSync(fd);
    times.push(nowUs() - t0);
  }
  fs.closeSync(fd);
  console.log(`${name.padEnd(34)} p50 ${quantile(times, 0.5)} us  p99 ${quantile(times, 0.99)} us`);
}

function throughput(perSync: number): void {
  const wal = Wal.open(path.join(root, `tput-${perSync}`), { syncMode: 'fdatasync' });
  const data = new Uint8Array(100).fill(9);
  let index = 0;
  const t0 = nowUs();
  while (nowUs() - t0 < THROUGHPUT_RUN_MS * 1000) {
    const batch: Entry[] = [];
    for (let k = 0; k < perSync; k++) batch.push({ index: ++index, term: 1, type: 0, data });
    wal.append(batch);
    wal.sync();
  }
  const seconds = (nowUs() - t0) / 1e6;
  wal.close();
  console.log(`100 B entries, sync per ${String(perSync).padEnd(3)}  ${Math.round(index / seconds)} appends/s  (${Math.round(index / perSync / seconds)} syncs/s)`);
}

function reopenTime(): void {
  const dir = path.join(root, 'reopen');
  const wal = Wal.open(dir, { syncMode: 'none' });
  const data = new Uint8Array(100).fill(5);
  let index = 0;
  while (index < 1_000_000) {
    const batch: Entry[] = [];
    for (let k = 0; k < 1000; k++) batch.push({ index: ++index, term: 1, type: 0, data });
    wal.append(batch);
    wal.sync();
  }
  wal.close();
  const t0 = nowUs();
  const again = Wal.open(dir, { syncMode: 'fdatasync' });
  const n = again.readAll().entries.length;
  const ms = (nowUs() - t0) / 1000;
  again.close();
  console.log(`open+replay of ${n} entries in ${again.segmentCount} segments: ${Math.round(ms)} ms`);
}

console.log(`node ${process.version}, ${os.cpus().length} cpus, dir ${root}`);
walLatency('wal 4KiB+fdatasync, prealloc 4MiB', { syncMode: 'fdatasync' });
walLatency('wal 4KiB+fdatasync, no prealloc', { syncMode: 'fdatasync', preallocChunkBytes: 0 });
walLatency('wal 4KiB+fsync, prealloc 4MiB', { syncMode: 'fsync' });
rawLatency('raw 4KiB+fdatasync, preallocated', true);
rawLatency('raw 4KiB+fdatasync, growing file', false);
for (const perSync of [1, 10, 100]) throughput(perSync);
reopenTime();
fs.rmSync(root, { recursive: true, force: true });
