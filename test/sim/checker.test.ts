// Unit tests of the simulation's invariant checker and seeded RNG, on hand-made observations:
// each invariant must reject the history that breaks it and accept a legal one, so that a green
// simulation run means something.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Checker, SimViolation } from './checker.js';
import { MirrorLog } from './mirror.js';
import { Rng } from './rng.js';

function violates(invariant: string, fn: () => void): void {
  assert.throws(fn, (err: unknown) => err instanceof SimViolation && err.invariant === invariant);
}

test('election safety: two leaders in one term are rejected', () => {
  const c = new Checker();
  c.observeLeader(1n, 3);
  c.observeLeader(1n, 3);
  c.observeLeader(2n, 4);
  violates('election safety', () => c.observeLeader(2n, 3));
});

test('log matching: same (index, term) with other data or another predecessor is rejected', () => {
  const c = new Checker();
  c.observeLogEntry(1n, 5, 2, '0:a', 2);
  c.observeLogEntry(2n, 5, 2, '0:a', 2);
  violates('log matching', () => c.observeLogEntry(3n, 5, 2, '0:b', 2));
  violates('log matching', () => c.observeLogEntry(3n, 5, 2, '0:a', 1));
});

test('durability and leader completeness', () => {
  const c = new Checker();
  c.observeCommitted(1n, 1, 1, '0:x');
  c.observeCommitted(1n, 2, 1, '0:y');
  violates('durability', () => c.observeCommitted(2n, 2, 2, '0:z'));
  violates('durability', () => c.observeOverwrite(2n, 2, 1, 0));
  violates('durability', () => c.observeOverwrite(2n, 3, 1, 3));
  c.observeOverwrite(2n, 3, 1, 2);
  const log = new Map([[1, 1], [2, 1]]);
  c.checkLeaderCompleteness(1n, 2, (i) => log.get(i), 0);
  violates('leader completeness', () => c.checkLeaderCompleteness(3n, 2, (i) => (i === 1 ? 1 : undefined), 0));
  violates('leader completeness', () => c.checkLeaderCompleteness(3n, 2, (i) => (i <= 2 ? 2 : undefined), 0));
});

test('state machine safety and read safety', () => {
  const c = new Checker();
  c.observeApply(1n, 1, '0:a', 10);
  c.observeApply(2n, 1, '0:a', 10);
  violates('state machine safety', () => c.observeApply(3n, 1, '0:b', 11));
  violates('state machine safety', () => c.observeRestore(3n, 1, 99));
  c.observeCommitted(1n, 1, 1, '0:a');
  c.beginRead(1n, 'r1');
  assert.equal(c.observeReadState(1n, 'r1', { index: 1, requestCtx: new Uint8Array() }), true);
  violates('read safety', () => c.observeReadState(1n, 'r1', { index: 0, requestCtx: new Uint8Array() }));
  assert.equal(c.observeReadState(1n, 'unknown', { index: 0, requestCtx: new Uint8Array() }), false);
  assert.equal(c.observeReadState(2n, 'r1', { index: 1, requestCtx: new Uint8Array() }), false);
  assert.equal(c.misroutedReads, 1);
  c.observeVoteGranted(1n, 2n, 5);
  violates('vote safety', () => c.observeVoteGranted(1n, 3n, 5));
});

test('mirror log reports overwritten entries', () => {
  const m = new MirrorLog();
  m.restore(4, 2);
  const e = (index: number, term: number) => ({ index, term, type: 0 as const, data: new Uint8Array() });
  assert.deepEqual(m.append([e(5, 2), e(6, 2), e(7, 3)]), []);
  assert.deepEqual(m.append([e(6, 4)]), [{ index: 6, oldTerm: 2 }, { index: 7, oldTerm: 3 }]);
  assert.equal(m.lastIndex(), 6);
  assert.equal(m.term(5), 2);
  m.compact(5);
  assert.equal(m.term(4), undefined);
  assert.equal(m.term(6), 4);
});

test('rng is deterministic per seed and forks independently', () => {
  const a = new Rng(7);
  const b = new Rng(7);
  const xs = Array.from({ length: 20 }, () => a.int(0, 1000));
  assert.deepEqual(Array.from({ length: 20 }, () => b.int(0, 1000)), xs);
  const c = new Rng(8);
  assert.notDeepEqual(Array.from({ length: 20 }, () => c.int(0, 1000)), xs);
  const f1 = new Rng(7).fork('net');
  const f2 = new Rng(7).fork('net');
  assert.equal(f1.nextU32(), f2.nextU32());
  assert.notEqual(new Rng(7).fork('net').nextU32(), new Rng(7).fork('disk').nextU32());
});
