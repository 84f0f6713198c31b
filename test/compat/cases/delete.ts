// Delete cases: single keys, missing keys (no revision bump), prev_kv, the prefix and "\0"
// range_end forms, history after a delete, and the empty-key error. The last case deletes every
// key, so it stays last.

import { b64, del, prefixEnd, put, range, type CompatCase } from '../model.js';

export const deleteCases: CompatCase[] = [
  {
    name: 'seed',
    steps: [put('d/a', '1'), put('d/b', '2'), put('d/c', '3'), put('d/d', '4'), put('e/x', '5'), put('d', '6')],
  },
  { name: 'missing key deletes nothing and keeps the revision', steps: [del('d/zzz'), range('d/a')] },
  { name: 'existing key', steps: [del('d/a'), range('d/a')] },
  { name: 'already deleted key', steps: [del('d/a', { prev_kv: true })] },
  { name: 'prev_kv', steps: [del('d/b', { prev_kv: true })] },
  { name: 'history before the delete is readable', steps: [range('d/a', { revision: '7' }), range('d/', { range_end: prefixEnd('d/'), revision: '2' })] },
  { name: 're-put after delete', steps: [put('d/a', 'back'), range('d/a'), del('d/a', { prev_kv: true })] },
  { name: 'prefix with prev_kv', steps: [put('d/p1', 'x'), put('d/p2', 'y'), del('d/p', { range_end: prefixEnd('d/p'), prev_kv: true })] },
  { name: 'range_end "\\0" deletes from key on', steps: [del('d/d', { range_end: b64('\0') }), range('\0', { range_end: b64('\0'), keys_only: true })] },
  { name: 'empty key', steps: [del(''), del('', { range_end: b64('z') })] },
  { name: 'range_end before key deletes nothing', steps: [put('d/z', 'z'), del('d/z', { range_end: b64('d/a') }), range('d/z')] },
  {
    name: 'key "\\0" with range_end "\\0" deletes everything',
    steps: [del('\0', { range_end: b64('\0') }), range('\0', { range_end: b64('\0') })],
  },
];
