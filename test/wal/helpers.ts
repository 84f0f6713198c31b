// Shared helpers for the WAL tests: temp dirs, deterministic entries, reading a dir back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Entry } from '../../src/raft/types.js';
import { Wal, type WalOptions } from '../../src/wal/wal.js';

export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'tetcd-wal-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Data that is a function of (index, term) only, non-zero, of a length that varies with index. */
export function dataFor(index: number, term: number, lengthBytes = 1 + ((index * 37) % 97)): Uint8Array {
  const data = new Uint8Array(lengthBytes);
  for (let i = 0; i < lengthBytes; i++) data[i] = 1 + ((index * 31 + term * 17 + i * 7) % 251);
  return data;
}

export function entry(index: number, term = 1, lengthBytes?: number): Entry {
  return { index, term, type: 0, data: dataFor(index, term, lengthBytes) };
}

export function entries(from: number, to: number, term = 1): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

export const TEST_OPTS: WalOptions = { syncMode: 'none', verifyWrites: true };

export function reopen(dir: string, opts: WalOptions = TEST_OPTS): Wal {
  return Wal.open(dir, opts);
}

/** Copies a WAL directory (flat) so a test can damage the copy again and again. */
export function copyDir(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) fs.copyFileSync(path.join(from, name), path.join(to, name));
}
