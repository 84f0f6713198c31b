// Scenarios replayed against the store and recorded once from a real etcd 3.4.23
// (test/mvcc/perf/record-etcd.ts writes fixtures/etcd-3.4-transcripts.json; the
// etcd-transcripts test replays them). Each scenario starts from a fresh store. They cover
// revision numbering, versions and generations, every range option, txn compares and nesting,
// the duplicate-key rules, the put/lease errors and compaction.
import type { CompactionRequest, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from '../../src/api/types.js';

export type Step =
  | { put: PutRequest }
  | { range: RangeRequest }
  | { del: DeleteRangeRequest }
  | { txn: TxnRequest }
  | { compact: CompactionRequest };

export interface Scenario {
  name: string;
  steps: Step[];
}

export const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
/** The prefix range end of `s` (etcd's GetPrefixRangeEnd for keys not ending in 0xff). */
export const pe = (s: string): Uint8Array => {
  const out = b(s);
  out[out.length - 1]! += 1;
  return out;
};
const ALL = b('\0');

const put = (key: string, value = '', more: Partial<PutRequest> = {}): Step => ({ put: { key: b(key), value: b(value), ...more } });
const range = (key: string, more: Partial<RangeRequest> = {}): Step => ({ range: { key: b(key), ...more } });
const del = (key: string, more: Partial<DeleteRangeRequest> = {}): Step => ({ del: { key: b(key), ...more } });
const txn = (t: Partial<TxnRequest>): Step => ({ txn: { compare: [], success: [], failure: [], ...t } });
const compact = (revision: number, physical = false): Step => ({ compact: physical ? { revision, physical } : { revision } });
const cmp = (key: string, target: Compare['target'], result: Compare['result'], more: Partial<Compare> = {}): Compare =>
  ({ key: b(key), target, result, ...more });
const op = {
  range: (key: string, more: Partial<RangeRequest> = {}): RequestOp => ({ requestRange: { key: b(key), ...more } }),
  put: (key: string, value = '', more: Partial<PutRequest> = {}): RequestOp => ({ requestPut: { key: b(key), value: b(value), ...more } }),
  del: (key: string, more: Partial<DeleteRangeRequest> = {}): RequestOp => ({ requestDeleteRange: { key: b(key), ...more } }),
  txn: (t: Partial<TxnRequest>): RequestOp => ({ requestTxn: { compare: [], success: [], failure: [], ...t } }),
};

const R = { rangeEnd: pe('r/') };
const seed: Step[] = [
  put('r/c', '3'), put('r/a', '5'), put('r/e', '1'), put('r/b', '4'), put('r/d', '2'),
  put('r/a', '6'), put('r/c', '0'), put('r/c', '9'),
  put('q', 'before'), put('s', 'after'), put('r', 'exact'), put('r/\xff', 'high'),
];
const sorts: Step[] = (['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'] as const).flatMap((sortTarget) =>
  (['ASCEND', 'DESCEND', 'NONE'] as const).map((sortOrder) => range('r/', { ...R, sortTarget, sortOrder })));

const RESULTS = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'] as const;
const everyResult = (key: string, target: Compare['target'], field: Partial<Compare>): Step[] =>
  RESULTS.map((result) => txn({ compare: [cmp(key, target, result, field)], success: [op.range(key)], failure: [op.range('t/none')] }));

export const scenarios: Scenario[] = [
  {
    name: 'range options',
    steps: [
      range('a'), ...seed,
      range('r/a'), range('r/zzz'), range('r/', R), range('r/c', { rangeEnd: ALL }), range('\0', { rangeEnd: ALL }),
      range('r/d', { rangeEnd: b('r/a') }), range('r/d', { rangeEnd: b('r/d') }),
      range('r/', { ...R, limit: 2 }), range('r/', { ...R, limit: 6 }), range('r/', { ...R, limit: -1 }),
      ...sorts,
      range('r/', { ...R, sortOrder: 'DESCEND', limit: 2 }), range('r/', { ...R, sortTarget: 'VALUE', limit: 3 }),
      range('r/', { ...R, keysOnly: true }), range('r/', { ...R, countOnly: true }), range('r/', { ...R, countOnly: true, limit: 1 }),
      ...[1, 2, 3, 7, 8, 9].map((revision) => range('r/', { ...R, revision })),
      range('r/a', { revision: 1000 }), range('r/a', { revision: 14 }), range('r/a', { revision: -3 }),
      range('r/', { ...R, minModRevision: 7 }), range('r/', { ...R, maxModRevision: 5 }),
      range('r/', { ...R, minCreateRevision: 4 }), range('r/', { ...R, maxCreateRevision: 3 }),
      range('r/', { ...R, minModRevision: 3, maxCreateRevision: 5, limit: 1 }),
      range('r/', { ...R, minModRevision: -1, maxModRevision: -1 }),
      range('r/', { ...R, minModRevision: 8, limit: 1, revision: 9 }),
      range('r/', { ...R, sortTarget: 'MOD', sortOrder: 'DESCEND', limit: 2, revision: 8, keysOnly: true }),
    ],
  },
  {
    name: 'put and delete: versions, generations, prev_kv, ignore flags, leases',
    steps: [
      put('p/a', 'one'), put('p/a', 'two', { prevKv: true }), put('p/b', 'x', { prevKv: true }),
      del('p/zz'), del('p/a', { prevKv: true }), del('p/a', { prevKv: true }),
      put('p/a', 'again', { prevKv: true }), range('p/a'), range('p/a', { revision: 3 }), range('p/a', { revision: 4 }),
      put('p/a', '', { ignoreValue: true, prevKv: true }), range('p/a'),
      put('p/missing', '', { ignoreValue: true }), put('p/a', 'y', { ignoreLease: true }), put('p/missing', 'y', { ignoreLease: true }),
      put('p/a', '', { ignoreValue: true, ignoreLease: true }), put('p/l', 'v', { lease: 12345n }), put('p/l', 'v', { lease: 0n }),
      put('p/missing', '', { ignoreValue: true, lease: 5n }),
      put('p/c1', '1'), put('p/c2', '2'), put('p/c3', '3'),
      del('p/c', { rangeEnd: pe('p/c'), prevKv: true }), del('p/', { rangeEnd: ALL }), range('\0', { rangeEnd: ALL }),
      put('p/z', 'z'), del('p/z', { rangeEnd: b('p/a') }), range('p/', { rangeEnd: pe('p/'), revision: 12 }),
    ],
  },
  {
    name: 'txn compares, branches, nesting',
    steps: [
      put('t/a', 'alpha'), put('t/a', 'beta'), put('t/b', 'bravo'), put('t/c', 'charlie'), txn({}),
      ...everyResult('t/a', 'VERSION', { version: 2 }), ...everyResult('t/a', 'CREATE', { createRevision: 2 }),
      ...everyResult('t/a', 'MOD', { modRevision: 4 }), ...everyResult('t/a', 'VALUE', { value: b('beta') }),
      ...everyResult('t/a', 'LEASE', { lease: 0n }),
      ...everyResult('t/missing', 'VERSION', { version: 0 }), ...everyResult('t/missing', 'VALUE', { value: b('') }),
      ...everyResult('t/missing', 'CREATE', {}),
      txn({ compare: [cmp('t/a', 'VERSION', 'EQUAL', { createRevision: 2 })], success: [op.range('t/a')] }),
      txn({ compare: [cmp('t/', 'VERSION', 'GREATER', { version: 0, rangeEnd: pe('t/') })], success: [op.range('t/b')] }),
      txn({ compare: [cmp('t/', 'VERSION', 'EQUAL', { version: 1, rangeEnd: pe('t/') })], success: [op.range('t/b')], failure: [op.range('t/c')] }),
      txn({
        compare: [cmp('t/a', 'MOD', 'EQUAL', { modRevision: 3 })],
        success: [op.range('t/a'), op.put('t/d', 'delta', { prevKv: true }), op.range('t/d'), op.del('t/c', { prevKv: true }), op.del('t/zz'), op.range('t/b')],
      }),
      txn({ success: [op.del('t/none')] }), txn({ success: [op.range('t/a'), op.range('t/b')] }),
      txn({ compare: [cmp('t/a', 'VALUE', 'EQUAL', { value: b('nope') })], success: [op.put('t/s', 's')], failure: [op.put('t/f', 'f'), op.range('t/f')] }),
      txn({
        success: [
          op.put('t/n0', 'n0'),
          op.txn({ compare: [cmp('t/n0', 'VERSION', 'EQUAL', { version: 0 })], success: [op.put('t/n1', 'n1'), op.range('t/n0')], failure: [op.put('t/n2', 'n2')] }),
          op.range('t/n', { rangeEnd: pe('t/n') }),
        ],
      }),
      txn({ success: [op.txn({ success: [op.txn({ success: [op.range('t/a')] })] })] }),
      txn({ success: [op.range('t/a', { revision: 3 }), op.put('t/h', 'h'), op.range('t/a', { revision: 4 }), op.range('t/h', { revision: 8 }), op.range('t/', { rangeEnd: pe('t/'), revision: 5, keysOnly: true })] }),
      txn({ success: [op.range('t/a', { revision: 100000 })] }), txn({ success: [op.range('t/a', { revision: -1 })] }),
      txn({ success: [op.range('t/a', { revision: -2 })] }),
      txn({ success: [op.put('t/l', 'v', { lease: 42n })] }), txn({ success: [op.put('t/nokey', '', { ignoreValue: true })] }),
      txn({ compare: [cmp('t/a', 'VALUE', 'EQUAL', { value: b('x') })], failure: [op.put('t/nokey', '', { ignoreValue: true })], success: [op.put('t/l', 'v', { lease: 42n })] }),
      range('t/', { rangeEnd: pe('t/') }),
    ],
  },
  {
    name: 'txn duplicate keys and op limits',
    steps: [
      put('t/a', 'a'),
      txn({ success: [op.put('t/dup', '1'), op.put('t/dup', '2')] }),
      txn({ success: [op.del('t/', { rangeEnd: pe('t/') }), op.put('t/a', 'x')] }),
      txn({ success: [op.del('t/a'), op.put('t/a', 'x')] }),
      txn({ success: [op.del('t/a', { rangeEnd: ALL }), op.put('t/b', 'x')] }),
      txn({ success: [op.put('t/n1', 'a'), op.txn({ success: [op.put('t/n1', 'b')] })] }),
      txn({ success: [op.txn({ success: [op.del('t/', { rangeEnd: pe('t/') })] }), op.put('t/b', 'x')] }),
      txn({ success: [op.txn({ success: [op.put('t/q', '1')], failure: [op.put('t/q', '2')] })] }),
      txn({ success: [op.txn({ success: [op.put('t/q', '1')] }), op.txn({ failure: [op.put('t/q', '2')] })] }),
      txn({ success: [op.range('t/a')], failure: [op.put('t/x', '1'), op.put('t/x', '2')] }),
      txn({ success: [op.put('t/sf', 's')], failure: [op.put('t/sf', 'f')] }),
      txn({ success: [op.del('t/n1'), op.del('t/n1')] }),
      txn({ success: Array.from({ length: 128 }, (_, i) => op.put(`t/m/${i}`, String(i))) }),
      txn({ success: Array.from({ length: 129 }, (_, i) => op.put(`t/m/${i}`, String(i))) }),
      txn({ compare: Array.from({ length: 129 }, (_, i) => cmp(`t/c${i}`, 'VERSION', 'EQUAL', { version: 0 })) }),
      txn({ success: [...Array.from({ length: 100 }, (_, i) => op.put(`t/o/${i}`)), op.txn({ success: Array.from({ length: 27 }, (_, i) => op.put(`t/p/${i}`)) })] }),
      txn({ success: [...Array.from({ length: 100 }, (_, i) => op.put(`t/o/${i}`)), op.txn({ success: Array.from({ length: 28 }, (_, i) => op.put(`t/p/${i}`)) })] }),
      range('t/', { rangeEnd: pe('t/'), countOnly: true }),
    ],
  },
  {
    name: 'compaction',
    steps: [
      compact(0), compact(0), compact(-5),
      put('c/a', '1'), put('c/a', '2'), put('c/b', '1'), put('c/a', '3'), del('c/b'), put('c/c', '1'), put('c/a', '4'), put('c/b', 'again'),
      compact(4), range('c/', { rangeEnd: pe('c/'), revision: 4 }), range('c/a', { revision: 3 }),
      compact(4), compact(2), compact(1000), compact(10),
      ...[5, 6, 7, 8, 9].map((revision) => range('c/', { rangeEnd: pe('c/'), revision })),
      range('c/b', { revision: 5 }), range('c/b', { revision: 6 }), range('c/b'),
      txn({ success: [op.range('c/a', { revision: 3 })] }), txn({ success: [op.range('c/a', { revision: 4 })] }),
      compact(7, true), range('c/', { rangeEnd: pe('c/'), revision: 7 }), range('c/', { rangeEnd: pe('c/'), revision: 6 }),
      compact(9), range('c/', { rangeEnd: pe('c/') }), range('c/a', { revision: 9 }), range('c/a', { revision: 8 }),
      put('c/z', 'z'), compact(10), range('c/z'), del('c/z'), compact(11), range('c/', { rangeEnd: pe('c/'), revision: 11 }),
      range('\0', { rangeEnd: ALL, countOnly: true, revision: 11 }),
    ],
  },
];
