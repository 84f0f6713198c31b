// Child process for crash.test.ts (not a test itself): reopens the WAL in argv[2], then appends
// batches of entries whose data is a function of their index, syncs after each batch and prints
// "synced N" (N = last index now durable). It stops by itself after argv[3] batches. With
// argv[4] = a failpoint name and argv[5] = a count, it SIGKILLs itself the count-th time that
// failpoint fires. Run: node --import tsx test/wal/crash-child.ts <dir> <batches> [failpoint count]
import { Wal, type WalFailpoint } from '../../src/wal/wal.js';
import { entry } from './helpers.js';

const [dir, batchesArg, killAt, killCountArg] = process.argv.slice(2);
if (dir === undefined || batchesArg === undefined) throw new Error('usage: crash-child.ts <dir> <batches> [failpoint count]');
let killCount = Number(killCountArg ?? 0);
const failpoint = (name: WalFailpoint): void => {
  if (name === killAt && --killCount === 0) process.kill(process.pid, 'SIGKILL');
};
const wal = Wal.open(dir, { syncMode: 'fdatasync', segmentSizeBytes: 32 * 1024, preallocChunkBytes: 8 * 1024, failpoint });
if (wal.repaired !== undefined) process.stdout.write(`repaired ${JSON.stringify(wal.repaired)}\n`);
let next = wal.lastIndex + 1;
let commit = wal.readAll().hardState.commit;
for (let b = 0; b < Number(batchesArg); b++) {
  const size = 1 + ((next * 13) % 17);
  const batch = [];
  for (let k = 0; k < size; k++) batch.push(entry(next + k));
  next += size;
  wal.append(batch, { term: 1, vote: 1n, commit });
  wal.sync();
  commit = next - 1; // the next batch's hard state commits this one
  process.stdout.write(`synced ${next - 1}\n`);
}
wal.close();
