// Range cases: single keys, the prefix and "\0" range_end forms, limits (including huge and
// negative ones), every sort target and order, keys_only/count_only, the revision filters and
// reads at past, future and negative revisions. The first case seeds keys whose key order,
// creation order, modification order, version and value order all differ, so that a sort by the
// wrong field cannot produce the right answer by accident.

import { b64, prefixEnd, put, range, type CompatCase } from '../model.js';

const ALL = { range_end: b64('\0') };
const PREFIX_R = { range_end: prefixEnd('r/') };

const sortSteps = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'].flatMap((target) =>
  ['ASCEND', 'DESCEND', 'NONE'].map((order) => range('r/', { ...PREFIX_R, sort_target: target, sort_order: order })),
);

export const rangeCases: CompatCase[] = [
  {
    name: 'seed: keys with distinct key, create, mod, version and value orders',
    steps: [
      put('r/c', '3'), put('r/a', '5'), put('r/e', '1'), put('r/b', '4'), put('r/d', '2'),
      put('r/a', '6'), put('r/c', '0'), put('r/c', '9'),
      put('q', 'before'), put('s', 'after'), put('r', 'exact'), put('r/\xff', 'high'),
    ],
  },
  { name: 'single existing key', steps: [range('r/a')] },
  { name: 'missing key', steps: [range('r/zzz')] },
  { name: 'prefix range_end', steps: [range('r/', PREFIX_R)] },
  { name: 'range_end "\\0" reads every key from key on', steps: [range('r/c', ALL)] },
  { name: 'key "\\0" with range_end "\\0" reads everything', steps: [range('\0', ALL)] },
  { name: 'range_end before key is empty', steps: [range('r/d', { range_end: b64('r/a') })] },
  { name: 'range_end equal to key is empty', steps: [range('r/d', { range_end: b64('r/d') })] },
  { name: 'limit below count sets more', steps: [range('r/', { ...PREFIX_R, limit: '2' })] },
  { name: 'limit equal to count', steps: [range('r/', { ...PREFIX_R, limit: '6' })] },
  { name: 'huge limit (max int64)', steps: [range('r/', { ...PREFIX_R, limit: '9223372036854775807' })] },
  { name: 'negative limit means no limit', steps: [range('r/', { ...PREFIX_R, limit: '-1' })] },
  { name: 'limit as a JSON number', steps: [range('r/', { ...PREFIX_R, limit: 3 })] },
  { name: 'every sort target and order', steps: sortSteps },
  { name: 'sort descending with limit', steps: [range('r/', { ...PREFIX_R, sort_order: 'DESCEND', limit: '2' })] },
  { name: 'sort by value with limit', steps: [range('r/', { ...PREFIX_R, sort_target: 'VALUE', limit: '3' })] },
  { name: 'sort enums as numbers', steps: [range('r/', { ...PREFIX_R, sort_order: 2, sort_target: 4 })] },
  { name: 'keys_only', steps: [range('r/', { ...PREFIX_R, keys_only: true })] },
  { name: 'keys_only still sorts by value', steps: [range('r/', { ...PREFIX_R, keys_only: true, sort_target: 'VALUE', sort_order: 'DESCEND' })] },
  { name: 'count_only', steps: [range('r/', { ...PREFIX_R, count_only: true })] },
  { name: 'count_only with limit', steps: [range('r/', { ...PREFIX_R, count_only: true, limit: '1' })] },
  { name: 'keys_only and count_only together', steps: [range('r/', { ...PREFIX_R, keys_only: true, count_only: true })] },
  {
    name: 'past revisions see old values and versions',
    steps: [2, 3, 7, 8, 9].map((revision) => range('r/', { ...PREFIX_R, revision: String(revision) })),
  },
  { name: 'revision 1 (before any write) is empty', steps: [range('r/', { ...PREFIX_R, revision: '1' })] },
  { name: 'future revision', steps: [range('r/a', { revision: '1000' })] },
  { name: 'current revision + 1 is future', steps: [range('r/a', { revision: '14' })] },
  { name: 'negative revision reads current', steps: [range('r/a', { revision: '-3' })] },
  { name: 'min_mod_revision filter', steps: [range('r/', { ...PREFIX_R, min_mod_revision: '7' })] },
  { name: 'max_mod_revision filter', steps: [range('r/', { ...PREFIX_R, max_mod_revision: '5' })] },
  { name: 'min_create_revision filter', steps: [range('r/', { ...PREFIX_R, min_create_revision: '4' })] },
  { name: 'max_create_revision filter', steps: [range('r/', { ...PREFIX_R, max_create_revision: '3' })] },
  {
    name: 'filters combined with limit and count',
    steps: [range('r/', { ...PREFIX_R, min_mod_revision: '3', max_create_revision: '5', limit: '1' })],
  },
  { name: 'negative filters are ignored', steps: [range('r/', { ...PREFIX_R, min_mod_revision: '-1', max_mod_revision: '-1' })] },
  { name: 'serializable read', steps: [range('r/', { ...PREFIX_R, serializable: true })] },
  { name: 'reads do not bump the revision', steps: [range('r/a'), range('r/a'), range('q')] },
];
