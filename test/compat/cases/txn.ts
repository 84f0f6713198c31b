// Txn cases: every compare target (VERSION, CREATE, MOD, VALUE, LEASE) with every result (EQUAL,
// GREATER, LESS, NOT_EQUAL), compares on missing keys and on ranges, both branches, nested txns,
// the duplicate-key rules (put/put, put/delete overlap, across nesting, in the branch not taken),
// the 128-operation limit, errors raised inside a branch, and read-only txns that must not bump
// the revision.

import { b64, cmp, op, prefixEnd, put, range, txn, type CompatCase, type Json } from '../model.js';

const RESULTS = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'];

/** One txn per result for a target, reading the key in success and writing nothing. */
function everyResult(key: string, target: string, field: string, value: Json): ReturnType<typeof txn>[] {
  return RESULTS.map((result) =>
    txn({ compare: [cmp(key, target, result, { [field]: value })], success: [op.range(key)], failure: [op.range('t/none')] }),
  );
}

const manyPuts = (n: number): Json[] => Array.from({ length: n }, (_, i) => op.put(`t/many/${i}`, String(i)));

export const txnCases: CompatCase[] = [
  { name: 'seed', steps: [put('t/a', 'alpha'), put('t/a', 'beta'), put('t/b', 'bravo'), put('t/c', 'charlie')] },
  { name: 'empty txn', steps: [txn({})] },
  { name: 'VERSION with every result', steps: [...everyResult('t/a', 'VERSION', 'version', '2'), ...everyResult('t/a', 'VERSION', 'version', '5')] },
  { name: 'CREATE with every result', steps: everyResult('t/a', 'CREATE', 'create_revision', '2') },
  { name: 'MOD with every result', steps: everyResult('t/a', 'MOD', 'mod_revision', '4') },
  { name: 'VALUE with every result', steps: [...everyResult('t/a', 'VALUE', 'value', b64('beta')), ...everyResult('t/a', 'VALUE', 'value', b64('alpha'))] },
  { name: 'LEASE with every result', steps: everyResult('t/a', 'LEASE', 'lease', '0') },
  {
    name: 'compares on a missing key',
    steps: [
      ...everyResult('t/missing', 'VERSION', 'version', '0'),
      ...everyResult('t/missing', 'CREATE', 'create_revision', '0'),
      ...everyResult('t/missing', 'VALUE', 'value', ''),
    ],
  },
  {
    name: 'VALUE compare against an empty value',
    steps: [put('t/ev', ''), ...everyResult('t/ev', 'VALUE', 'value', ''), ...everyResult('t/ev', 'VALUE', 'value', b64('a'))],
  },
  { name: 'compare target and result as numbers', steps: [txn({ compare: [cmp('t/a', 0 as unknown as string, 0 as unknown as string, { version: '2' })], success: [op.range('t/a')] })] },
  { name: 'compare with no target field uses VERSION EQUAL 0', steps: [txn({ compare: [{ key: b64('t/a') }], success: [op.range('t/a')], failure: [op.range('t/b')] })] },
  {
    name: 'compare over a range (range_end)',
    steps: [
      txn({ compare: [cmp('t/', 'VERSION', 'GREATER', { version: '0', range_end: prefixEnd('t/') })], success: [op.range('t/b')] }),
      txn({ compare: [cmp('t/', 'VERSION', 'EQUAL', { version: '1', range_end: prefixEnd('t/') })], success: [op.range('t/b')], failure: [op.range('t/c')] }),
    ],
  },
  {
    name: 'all compares must hold',
    steps: [
      txn({ compare: [cmp('t/a', 'VALUE', 'EQUAL', { value: b64('beta') }), cmp('t/b', 'VERSION', 'EQUAL', { version: '1' })], success: [op.range('t/a')] }),
      txn({ compare: [cmp('t/a', 'VALUE', 'EQUAL', { value: b64('beta') }), cmp('t/b', 'VERSION', 'EQUAL', { version: '9' })], success: [op.range('t/a')], failure: [op.range('t/b')] }),
    ],
  },
  {
    name: 'success writes: put, delete with prev_kv, range after put',
    steps: [
      txn({
        compare: [cmp('t/a', 'MOD', 'EQUAL', { mod_revision: '3' })],
        success: [op.put('t/d', 'delta', { prev_kv: true }), op.del('t/c', { prev_kv: true }), op.range('t/b')],
      }),
      range('t/', { range_end: prefixEnd('t/') }),
    ],
  },
  {
    name: 'failure branch writes',
    steps: [
      txn({ compare: [cmp('t/a', 'VALUE', 'EQUAL', { value: b64('nope') })], success: [op.put('t/s', 's')], failure: [op.put('t/f', 'f'), op.range('t/f')] }),
      range('t/s'), range('t/f'),
    ],
  },
  { name: 'put then range of the same key in one txn', steps: [txn({ success: [op.range('t/e'), op.put('t/e', 'echo')] }), txn({ success: [op.put('t/e2', 'x'), op.range('t/e', { range_end: prefixEnd('t/e') })] })] },
  { name: 'read-only txn does not bump the revision', steps: [range('t/a'), txn({ compare: [cmp('t/a', 'VERSION', 'GREATER', { version: '0' })], success: [op.range('t/a'), op.range('t/b')] }), range('t/a')] },
  { name: 'txn that deletes nothing does not bump the revision', steps: [txn({ success: [op.del('t/none')] }), range('t/a')] },
  {
    name: 'nested txn',
    steps: [
      txn({
        success: [
          op.txn({ compare: [cmp('t/a', 'VERSION', 'EQUAL', { version: '2' })], success: [op.put('t/n1', 'n1')], failure: [op.put('t/n2', 'n2')] }),
          op.range('t/n1'),
        ],
      }),
      txn({ success: [op.txn({ success: [op.txn({ success: [op.range('t/a')] })] })] }),
    ],
  },
  { name: 'duplicate put keys', steps: [txn({ success: [op.put('t/dup', '1'), op.put('t/dup', '2')] }), range('t/dup')] },
  { name: 'put inside a deleted range', steps: [txn({ success: [op.del('t/', { range_end: prefixEnd('t/') }), op.put('t/a', 'x')] })] },
  { name: 'delete then put of the same key', steps: [txn({ success: [op.del('t/a'), op.put('t/a', 'x')] })] },
  { name: 'duplicate across nested txn', steps: [txn({ success: [op.put('t/n1', 'a'), op.txn({ success: [op.put('t/n1', 'b')] })] })] },
  { name: 'duplicates in the branch not taken', steps: [txn({ success: [op.range('t/a')], failure: [op.put('t/x', '1'), op.put('t/x', '2')] })] },
  { name: 'same key in success and failure is fine', steps: [txn({ success: [op.put('t/sf', 's')], failure: [op.put('t/sf', 'f')] }), range('t/sf')] },
  { name: 'two deletes of the same key are fine', steps: [txn({ success: [op.del('t/n1'), op.del('t/n1')] })] },
  { name: '128 ops are allowed', steps: [txn({ success: manyPuts(128) }), range('t/many/', { range_end: prefixEnd('t/many/'), count_only: true })] },
  { name: '129 ops are too many', steps: [txn({ success: manyPuts(129) })] },
  { name: 'too many compares', steps: [txn({ compare: Array.from({ length: 129 }, (_, i) => cmp(`t/c${i}`, 'VERSION', 'EQUAL', { version: '0' })) })] },
  { name: 'put with a lease that does not exist', steps: [txn({ success: [op.put('t/l', 'v', { lease: '42' })] }), range('t/l')] },
  { name: 'empty key in an op', steps: [txn({ success: [op.put('')] }), txn({ success: [op.range('')] }), txn({ success: [op.del('')] })] },
  { name: 'empty key in a compare', steps: [txn({ compare: [cmp('', 'VERSION', 'EQUAL', { version: '0' })] })] },
  { name: 'empty request op', steps: [txn({ success: [{}] })] },
  { name: 'range at a future revision inside txn', steps: [txn({ success: [op.range('t/a', { revision: '100000' })] }), range('t/a')] },
  { name: 'ignore_value inside txn on a missing key', steps: [txn({ success: [op.put('t/nokey', undefined, { ignore_value: true })] })] },
  { name: 'bad compare enum', steps: [txn({ compare: [cmp('t/a', 'SIZE', 'EQUAL')] }), txn({ compare: [cmp('t/a', 'VERSION', 'ABOUT')] })] },
];
