// The MsgSnap data format (src/transport/snapshot-data.ts): a round trip keeps every pair in
// order, and a damaged dump is refused rather than half-installed.

import assert from 'node:assert/strict';
import test from 'node:test';
import { decodeDump, encodeDump } from '../../src/transport/snapshot-data.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('a store dump round-trips, empty keys and values included', () => {
  const pairs: Array<[Uint8Array, Uint8Array]> = [[enc('a'), enc('xy')], [enc('k\u0000z'), new Uint8Array(0)], [new Uint8Array([0xfe]), enc('v'.repeat(1000))]];
  const data = encodeDump(pairs);
  assert.deepEqual(Buffer.from(data.subarray(0, 19)).toString('hex'), '54534e50010000000300000001610000000278');
  const back = decodeDump(data);
  assert.deepEqual(back.map(([k, v]) => [Buffer.from(k), Buffer.from(v)]), pairs.map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));
  assert.deepEqual(decodeDump(encodeDump([])), []);
});

test('a truncated, padded or foreign dump is refused', () => {
  const data = encodeDump([[enc('key'), enc('value')]]);
  assert.throws(() => decodeDump(data.subarray(0, data.length - 1)), /truncated/);
  assert.throws(() => decodeDump(new Uint8Array([...data, 0])), /after the last pair/);
  assert.throws(() => decodeDump(enc('not a dump at all')), /not a tetcd store dump/);
  const v2 = new Uint8Array(data);
  v2[4] = 2;
  assert.throws(() => decodeDump(v2), /version 2/);
});
