// The raft request codec: every request kind round-trips exactly (optional fields stay absent,
// negative and huge integers survive), decoded bytes do not alias the entry, and malformed
// entries are refused rather than guessed at.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRaftRequest, encodeRaftRequest, type RaftRequest } from '../../src/mvcc/request-codec.js';
import { b } from './scenarios.js';

const samples: RaftRequest[] = [
  { id: 1n, put: { key: b('k'), value: b('v') } },
  { id: 0xffffffffffffffffn, put: { key: b('k\0\xff'), value: new Uint8Array(0), lease: -1n, prevKv: true, ignoreValue: true, ignoreLease: true } },
  { id: 2n, put: { key: b('k'), value: b('v'), lease: 0x7fffffffffffffffn } },
  { id: 3n, deleteRange: { key: b('a') } },
  { id: 4n, deleteRange: { key: b('a'), rangeEnd: b('\0'), prevKv: true } },
  { id: 5n, compaction: { revision: 42 } },
  { id: 6n, compaction: { revision: -5, physical: true } },
  {
    id: 7n,
    txn: {
      compare: [
        { key: b('a'), target: 'VERSION', result: 'EQUAL', version: 3 },
        { key: b('a'), target: 'CREATE', result: 'GREATER', createRevision: 0, rangeEnd: b('b') },
        { key: b('a'), target: 'MOD', result: 'LESS', modRevision: 2 ** 52 },
        { key: b('a'), target: 'VALUE', result: 'NOT_EQUAL', value: b('x') },
        { key: b('a'), target: 'LEASE', result: 'EQUAL', lease: 99n },
      ],
      success: [
        { requestRange: { key: b('a'), rangeEnd: b('z'), limit: -1, revision: 9, sortOrder: 'DESCEND', sortTarget: 'VALUE', keysOnly: true, countOnly: true, serializable: true, minModRevision: -1, maxModRevision: 2, minCreateRevision: 3, maxCreateRevision: 4 } },
        { requestRange: { key: b('a'), limit: 9223372036854775807 } },
        { requestPut: { key: b('p'), value: b('q') } },
        { requestDeleteRange: { key: b('d'), rangeEnd: b('e') } },
        { requestTxn: { compare: [], success: [{ requestTxn: { compare: [], success: [], failure: [{ requestRange: { key: b('n') } }] } }], failure: [] } },
      ],
      failure: [{ requestPut: { key: b('f'), value: b('g'), prevKv: true } }],
    },
  },
];

describe('raft request codec', () => {
  it('round-trips every request kind exactly', () => {
    for (const r of samples) assert.deepEqual(decodeRaftRequest(encodeRaftRequest(r)), r);
  });

  it('decoded byte strings are copies, not views into the entry', () => {
    const bytes = encodeRaftRequest(samples[0]!);
    const decoded = decodeRaftRequest(bytes);
    bytes.fill(0);
    assert.ok('put' in decoded);
    assert.deepEqual(decoded.put.key, b('k'));
  });

  it('refuses truncated, padded and unknown entries', () => {
    const bytes = encodeRaftRequest(samples[7]!);
    for (let n = 0; n < bytes.length; n++) assert.throws(() => decodeRaftRequest(bytes.subarray(0, n)), Error, `truncated at ${n}`);
    assert.throws(() => decodeRaftRequest(Uint8Array.of(...bytes, 0)), /trailing bytes/);
    // 16..18 are the lease kinds (test/lease/codec.test.ts); 19..31 stay reserved.
    assert.throws(() => decodeRaftRequest(Uint8Array.of(1, 16, 0, 0, 0, 0, 0, 0, 0, 1)), /grant body is 0 bytes/);
    assert.throws(() => decodeRaftRequest(Uint8Array.of(1, 19, 0, 0, 0, 0, 0, 0, 0, 1)), /unknown kind 19/);
    assert.throws(() => decodeRaftRequest(Uint8Array.of(2, 1)), /unknown format/);
  });
});
