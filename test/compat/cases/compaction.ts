// Compaction cases, in one group because each changes the store's compacted revision: compacting
// a past revision, the same or an older one again (compacted), a future one, the current one,
// reads and txns at compacted and surviving revisions, and keys deleted before the compaction.

import { b64, compact, op, prefixEnd, put, range, del, txn, type CompatCase } from '../model.js';

const PREFIX_C = { range_end: prefixEnd('c/') };

export const compactionCases: CompatCase[] = [
  {
    name: 'seed history (revisions 2..9)',
    steps: [put('c/a', '1'), put('c/a', '2'), put('c/b', '1'), put('c/a', '3'), del('c/b'), put('c/c', '1'), put('c/a', '4'), put('c/b', 'again')],
  },
  { name: 'compact a past revision', steps: [compact(4), range('c/', { ...PREFIX_C, revision: '4' })] },
  { name: 'read below the compacted revision', steps: [range('c/a', { revision: '3' }), range('c/a', { revision: '2' })] },
  { name: 'compact the same revision again', steps: [compact(4)] },
  { name: 'compact an older revision', steps: [compact(2)] },
  { name: 'compact a future revision', steps: [compact(1000), compact(10)] },
  { name: 'compact revision 0, absent and negative', steps: [compact(0), { path: '/v3/kv/compaction', body: {} }, compact(-5)] },
  { name: 'reads between the compacted and current revisions', steps: [5, 6, 7, 8, 9].map((r) => range('c/', { ...PREFIX_C, revision: String(r) })) },
  { name: 'deleted key history survives up to its delete', steps: [range('c/b', { revision: '5' }), range('c/b', { revision: '6' }), range('c/b')] },
  { name: 'txn range at a compacted revision', steps: [txn({ success: [op.range('c/a', { revision: '3' })] })] },
  { name: 'physical compaction', steps: [compact(7, { physical: true }), range('c/', { ...PREFIX_C, revision: '7' }), range('c/', { ...PREFIX_C, revision: '6' })] },
  { name: 'compact the current revision', steps: [compact(9), range('c/', PREFIX_C), range('c/a', { revision: '9' }), range('c/a', { revision: '8' })] },
  { name: 'compaction does not bump the revision', steps: [put('c/z', 'z'), compact(10), range('c/z')] },
  {
    name: 'compaction on a fresh store',
    fresh: true,
    steps: [compact(1), compact(0), compact(2), put('c/f', 'f'), compact(2), range('c/f', { revision: '1' }), range('c/f')],
  },
  { name: 'count_only and filters at the compacted revision', steps: [range('\0', { range_end: b64('\0'), count_only: true, revision: '10' })] },
];
