// Worker threads under Node 20 do not inherit the tsx loader that the main thread was started
// with (`node --import tsx`), so every worker starts here: register tsx, then load the real
// entry file named in workerData.entry (a file: URL string to a .ts module).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
if (typeof workerData?.entry !== 'string') throw new Error('workers/boot.mjs: workerData.entry (a file URL) is required');
await import(workerData.entry);
