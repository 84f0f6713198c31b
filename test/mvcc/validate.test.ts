// Pre-proposal checks beyond the etcd transcripts: the codes each rule answers with, enum
// checks (so no op of a txn can fail after others wrote), and the store refusing bad input
// without changing its revision.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RangeRequest, TxnRequest } from '../../src/api/types.js';
import { MemoryBackend } from '../../src/mvcc/memory-backend.js';
import { MvccStore } from '../../src/mvcc/store.js';
import { validateDeleteRange, validatePut, validateRange, validateTxn } from '../../src/mvcc/validate.js';
import { b } from './scenarios.js';

const txn = (t: Partial<TxnRequest>): TxnRequest => ({ compare: [], success: [], failure: [], ...t });

describe('validate', () => {
  it('answers with etcd\'s errors', () => {
    assert.throws(() => validateRange({ key: b('') }), /key is not provided/);
    assert.throws(() => validateDeleteRange({ key: b('') }), /key is not provided/);
    assert.throws(() => validatePut({ key: b('k'), value: b('v'), ignoreValue: true }), /value is provided/);
    assert.throws(() => validatePut({ key: b('k'), value: b(''), ignoreLease: true, lease: 1n }), /lease is provided/);
    assert.throws(() => validateTxn(txn({ success: [{} as never] })), /key not found/);
    assert.throws(() => validateTxn(txn({ failure: [{ requestPut: { key: b(''), value: b('') } }] })), /key is not provided/);
    assert.throws(() => validateTxn(txn({ success: [{ requestPut: { key: b('a'), value: b('') } }] }), 0), /too many operations/);
    validateTxn(txn({ success: [{ requestDeleteRange: { key: b('a'), rangeEnd: b('c') } }, { requestPut: { key: b('c'), value: b('') } }] }));
    assert.throws(() => validateTxn(txn({ success: [{ requestDeleteRange: { key: b('a'), rangeEnd: b('c') } }, { requestPut: { key: b('b'), value: b('') } }] })), /duplicate key/);
  });

  it('rejects unknown enums before anything is applied', async () => {
    const store = await MvccStore.open(new MemoryBackend());
    const bad = { key: b('a'), sortTarget: 'SIZE' } as unknown as RangeRequest;
    assert.throws(() => store.txn(txn({ success: [{ requestPut: { key: b('a'), value: b('1') } }, { requestRange: bad }] })), /invalid sort target/);
    assert.throws(() => store.txn(txn({ compare: [{ key: b('a'), target: 'VERSION', result: 'ABOUT' as never }] })), /invalid compare result/);
    assert.equal(store.currentRevision, 1);
    assert.throws(() => store.compact(9223372036854775807), /future revision/);
  });
});
