// Kill -9 a process that appends and syncs in a loop, then reopen: every record it reported
// synced must be there, whole and in order. Rounds alternate between a SIGKILL from outside at a
// varying moment and a SIGKILL from inside at a named failpoint (before/after a sync, after a
// write, before a segment cut); each round continues the WAL the previous round left.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { test } from 'node:test';
import { Wal } from '../../src/wal/wal.js';
import { dataFor, tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const REPO = path.resolve(path.dirname(CHILD), '..', '..');
const BATCHES_MAX = 3000;

interface Round { killAfterSynced?: number; failpoint?: string; count?: number }

/** Runs the child; resolves with the highest index it reported synced and how it ended. */
function runChild(dir: string, round: Round): Promise<{ synced: number; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', CHILD, dir, String(BATCHES_MAX)];
    if (round.failpoint !== undefined) args.push(round.failpoint, String(round.count));
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    let synced = 0;
    let lines = 0;
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        const m = /^synced (\d+)$/.exec(line);
        if (m === null) continue;
        synced = Math.max(synced, Number(m[1]));
        if (++lines === round.killAfterSynced) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve({ synced, signal }));
  });
}

function checkLog(dir: string, syncedMin: number): number {
  const wal = Wal.open(dir, { syncMode: 'fdatasync', segmentSizeBytes: 32 * 1024 });
  const { entries, hardState } = wal.readAll();
  assert.ok(entries.length >= syncedMin, `kept ${entries.length} entries, ${syncedMin} were reported synced`);
  entries.forEach((e, k) => {
    assert.equal(e.index, k + 1);
    assert.deepEqual(e.data, dataFor(e.index, 1), `entry ${e.index} is intact`);
  });
  assert.ok(hardState.commit <= entries.length, 'commit is within the log');
  wal.close();
  return entries.length;
}

test('SIGKILL during append+sync loses nothing that was reported synced', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const rounds: Round[] = [
    { killAfterSynced: 150 },
    { failpoint: 'beforeSync', count: 40 },
    { failpoint: 'afterWrite', count: 77 },
    { killAfterSynced: 400 },
    { failpoint: 'afterSync', count: 5 },
    { failpoint: 'beforeCut', count: 2 },
    { killAfterSynced: 1 },
  ];
  let known = 0;
  for (const round of rounds) {
    const { synced, signal } = await runChild(dir, round);
    assert.equal(signal, 'SIGKILL', `round ${JSON.stringify(round)} ended by SIGKILL`);
    assert.ok(synced >= known, 'the child continued the log');
    known = checkLog(dir, synced);
  }
  assert.ok(known > 1000, `${known} entries after all rounds`);
});
