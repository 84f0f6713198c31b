// The checker on hand-made histories that are and are not linearizable (each named after the
// fault it shows), on random histories generated from a sequential execution (must pass), and
// on the same with one answer tampered with (must fail, with a short explanation).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkHistory, type CheckOptions, type CheckResult } from './checker.js';
import { generateHistory, rng } from './generate.js';
import type { HistoryOp, KvOp, KvResult } from './history.js';

let nextId = 0;
/** An op: [call, ret] (ret undefined: no answer), the op, and its result. */
function op(client: number, call: number, ret: number | undefined, o: KvOp, result?: KvResult): HistoryOp {
  const h: HistoryOp = { id: nextId++, client, call, op: o };
  if (ret !== undefined) h.ret = ret;
  if (result !== undefined) h.result = result;
  return h;
}
const put = (c: number, call: number, ret: number | undefined, key: string, value: string, revision?: number) =>
  op(c, call, ret, { kind: 'put', key, value }, revision === undefined ? undefined : { kind: 'put', revision });
const get = (c: number, call: number, ret: number, key: string, value: string | undefined, revision: number) =>
  op(c, call, ret, { kind: 'get', key }, { kind: 'get', value, revision });
const cas = (c: number, call: number, ret: number | undefined, key: string, expected: string, value: string, out?: [boolean, number]) =>
  op(c, call, ret, { kind: 'cas', key, expected, value }, out === undefined ? undefined : { kind: 'cas', succeeded: out[0], revision: out[1] });

function assertOk(history: HistoryOp[], opts?: CheckOptions): void {
  const r = checkHistory(history, opts);
  assert.equal(r.outcome, 'ok', r.outcome === 'violation' ? r.violation.report : JSON.stringify(r));
}

function assertViolation(history: HistoryOp[], opts?: CheckOptions): Extract<CheckResult, { outcome: 'violation' }>['violation'] {
  const r = checkHistory(history, opts);
  assert.equal(r.outcome, 'violation', JSON.stringify(r));
  assert.ok(r.outcome === 'violation');
  return r.violation;
}

describe('linearizability checker: hand-made histories', () => {
  it('sequential puts and gets', () => {
    assertOk([put(1, 0, 1, 'x', 'a', 2), get(1, 2, 3, 'x', 'a', 2), put(2, 4, 5, 'y', 'b', 3), get(2, 6, 7, 'x', 'a', 3), get(1, 6, 7, 'z', undefined, 3)]);
  });

  it('stale read: absent after an acknowledged put', () => {
    const v = assertViolation([put(1, 0, 1, 'x', 'a', 2), get(2, 2, 3, 'x', undefined, 2)]);
    assert.equal(v.key, 'x');
    assert.match(v.report, /reads absent, the register holds a/);
  });

  it('stale read at an old revision is caught as revision going backwards', () => {
    const v = assertViolation([put(1, 0, 1, 'x', 'a', 2), get(2, 2, 3, 'x', undefined, 1)]);
    assert.match(v.message, /revision went backwards/);
  });

  it('lost write: the older value read after a newer put completed', () => {
    assertViolation([put(1, 0, 1, 'x', 'a', 2), put(1, 2, 3, 'x', 'b', 3), get(2, 4, 5, 'x', 'a', 3)]);
  });

  it('concurrent writes may take effect in either order', () => {
    for (const [ra, rb, last] of [[2, 3, 'b'], [3, 2, 'a']] as const) {
      assertOk([put(1, 0, 5, 'x', 'a', ra), put(2, 1, 4, 'x', 'b', rb), get(3, 6, 7, 'x', last, 3)]);
    }
    // ... but a read afterwards must see the one with the higher revision
    assertViolation([put(1, 0, 5, 'x', 'a', 2), put(2, 1, 4, 'x', 'b', 3), get(3, 6, 7, 'x', 'a', 3)]);
  });

  it('a read concurrent with a write may see either value', () => {
    assertOk([put(1, 0, 1, 'x', 'a', 2), put(1, 2, 6, 'x', 'b', 3), get(2, 3, 4, 'x', 'a', 2), get(3, 3, 5, 'x', 'b', 3)]);
    // once a read saw the new value, a later read cannot see the old one
    assertViolation([put(1, 0, 1, 'x', 'a', 2), put(1, 2, 9, 'x', 'b', 3), get(2, 3, 4, 'x', 'b', 3), get(3, 5, 6, 'x', 'a', 3)]);
  });

  it('a maybe-applied write explains a later read, or never happened', () => {
    assertOk([put(1, 0, undefined, 'x', 'a'), get(2, 5, 6, 'x', 'a', 2)]);
    assertOk([put(1, 0, undefined, 'x', 'a'), get(2, 5, 6, 'x', undefined, 1)]);
    assertOk([put(1, 0, undefined, 'x', 'a'), get(2, 5, 6, 'x', undefined, 1), get(2, 7, 8, 'x', 'a', 2)]);
    // but it cannot take effect before its invocation, nor be undone
    assertViolation([get(2, 0, 1, 'x', 'a', 2), put(1, 2, undefined, 'x', 'a')]);
    assertViolation([put(1, 0, undefined, 'x', 'a'), get(2, 5, 6, 'x', 'a', 2), get(2, 7, 8, 'x', undefined, 2)]);
    // a read of a value nobody wrote
    assertViolation([get(2, 5, 6, 'x', 'a', 1)]);
  });

  it('a maybe-applied write cannot take a revision a completed write has', () => {
    // the only free revision at or below 2 would be 2, which the put of y created
    assertViolation([put(1, 0, undefined, 'x', 'a'), put(2, 0, 1, 'y', 'b', 2), get(3, 5, 6, 'x', 'a', 2)]);
    assertOk([put(1, 0, undefined, 'x', 'a'), put(2, 0, 1, 'y', 'b', 2), get(3, 5, 6, 'x', 'a', 3)]);
  });

  it('a CAS succeeding twice from the same expected value', () => {
    const base = [put(1, 0, 1, 'x', 'a', 2)];
    assertViolation([...base, cas(1, 2, 3, 'x', 'a', 'b', [true, 3]), cas(2, 4, 5, 'x', 'a', 'c', [true, 4])]);
    // concurrent: still only one can win
    assertViolation([...base, cas(1, 2, 6, 'x', 'a', 'b', [true, 3]), cas(2, 3, 5, 'x', 'a', 'c', [true, 4])]);
    // a failed CAS at revision 2 would have compared against a
    assertViolation([...base, cas(1, 2, 6, 'x', 'a', 'b', [true, 3]), cas(2, 3, 5, 'x', 'a', 'c', [false, 2])]);
    assertOk([...base, cas(1, 2, 6, 'x', 'a', 'b', [true, 3]), cas(2, 3, 5, 'x', 'a', 'c', [false, 3])]);
  });

  it('CAS: fails on a missing key and on a mismatch, never when the value matched', () => {
    assertOk([cas(1, 0, 1, 'x', 'a', 'b', [false, 1])]);
    assertViolation([cas(1, 0, 1, 'x', 'a', 'b', [true, 2])]);
    assertOk([put(1, 0, 1, 'x', 'z', 2), cas(1, 2, 3, 'x', 'a', 'b', [false, 2])]);
    const v = assertViolation([put(1, 0, 1, 'x', 'a', 2), cas(1, 2, 3, 'x', 'a', 'b', [false, 2])]);
    assert.match(v.report, /failed, but the register holds the expected a/);
  });

  it('a CAS without an answer may or may not have applied', () => {
    const base = [put(1, 0, 1, 'x', 'a', 2), cas(1, 2, undefined, 'x', 'a', 'b')];
    assertOk([...base, get(2, 5, 6, 'x', 'b', 3)]);
    assertOk([...base, get(2, 5, 6, 'x', 'a', 2)]);
    assertViolation([put(1, 0, 1, 'x', 'c', 2), cas(1, 2, undefined, 'x', 'a', 'b'), get(2, 5, 6, 'x', 'b', 3)]);
  });

  it('revision going backwards across keys', () => {
    assertViolation([put(1, 0, 1, 'x', 'a', 3), put(2, 2, 3, 'y', 'b', 2)]);
    assertViolation([put(1, 0, 1, 'x', 'a', 2), put(1, 2, 3, 'x', 'b', 3), get(2, 4, 5, 'y', undefined, 2)]);
    assertOk([put(1, 0, 3, 'x', 'a', 3), put(2, 1, 2, 'y', 'b', 2)]);
  });

  it('two writes with one revision, a write at or below the start, a gap in revisions', () => {
    assert.match(assertViolation([put(1, 0, 1, 'x', 'a', 2), put(2, 0, 1, 'y', 'b', 2)]).message, /two writes created revision 2/);
    assertViolation([put(1, 0, 1, 'x', 'a', 1)]);
    assert.match(assertViolation([put(1, 0, 1, 'x', 'a', 2), put(1, 2, 3, 'x', 'b', 4)]).message, /need 1 more writes/);
    assertOk([put(1, 0, 1, 'x', 'a', 2), put(2, 0, undefined, 'y', 'c'), put(1, 2, 3, 'x', 'b', 4)]);
  });

  it('a mod revision must be the writing revision', () => {
    const w = put(1, 0, 1, 'x', 'a', 2);
    assertOk([w, op(2, 2, 3, { kind: 'get', key: 'x' }, { kind: 'get', value: 'a', revision: 2, modRevision: 2 })]);
    assertViolation([w, op(2, 2, 3, { kind: 'get', key: 'x' }, { kind: 'get', value: 'a', revision: 2, modRevision: 1 })]);
  });

  it('initial values and revision; gets without an answer are ignored', () => {
    const opts = { initialRevision: 10, initialValues: { x: 'old' } };
    assertOk([get(1, 0, 1, 'x', 'old', 10), op(2, 0, undefined, { kind: 'get', key: 'x' }), put(1, 2, 3, 'x', 'n', 11)], opts);
    assertViolation([get(1, 0, 1, 'x', undefined, 10)], opts);
  });

  it('the search is bounded: a tiny budget answers unknown', () => {
    const history = generateHistory({ seed: 7, clients: 6, keys: 1, opsPerClient: 30, maybeRate: 0.2 });
    const r = checkHistory(history, { searchStepsMax: 5 });
    assert.equal(r.outcome, 'unknown');
    assertOk(history);
  });

  it('the explanation is a short failing prefix, not the whole history', () => {
    const history: HistoryOp[] = [];
    let rev = 1;
    for (let i = 0; i < 200; i++) {
      history.push(put(1, 4 * i, 4 * i + 1, 'x', `v${i}`, ++rev), get(2, 4 * i + 2, 4 * i + 3, 'x', `v${i}`, rev));
    }
    history.push(get(2, 1000, 1001, 'x', 'v3', rev)); // a stale read at the end
    for (let i = 0; i < 50; i++) history.push(get(1, 1002 + i, 1002 + i + 0.5, 'x', 'v199', rev));
    const v = assertViolation(history);
    assert.ok(v.ops.length <= 4, v.report);
    assert.ok(v.ops.some((h) => h.call === 1000), v.report);
    assert.match(v.report, /no op can go next/);
  });
});

describe('linearizability checker: generated histories', () => {
  const configs = [
    { clients: 4, keys: 3, opsPerClient: 40, maybeRate: 0 },
    { clients: 4, keys: 2, opsPerClient: 40, maybeRate: 0.15 },
    { clients: 8, keys: 1, opsPerClient: 20, maybeRate: 0.05 },
  ];

  it('histories from a sequential execution are linearizable', () => {
    for (const c of configs) {
      for (let seed = 1; seed <= 40; seed++) assertOk(generateHistory({ seed, ...c }));
    }
  });

  it('one read answer tampered with is a violation', () => {
    let tampered = 0;
    for (const c of configs) {
      for (let seed = 1; seed <= 40; seed++) {
        const history = generateHistory({ seed, ...c });
        const reads = history.filter((h) => h.result?.kind === 'get');
        const victim = reads[Math.floor(rng(seed)() * reads.length)];
        if (victim === undefined || victim.result?.kind !== 'get') continue;
        victim.result = { ...victim.result, value: 'never-written' };
        tampered++;
        const v = assertViolation(history);
        assert.ok(v.ops.some((h) => h.id === victim.id), v.report);
      }
    }
    assert.ok(tampered >= 100, `tampered ${tampered} histories`);
  });

  it('one write revision tampered with (moved onto another write\'s) is a violation', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const history = generateHistory({ seed, clients: 4, keys: 3, opsPerClient: 30, maybeRate: 0.1 });
      const writes = history.filter((h) => h.result?.kind === 'put');
      assert.ok(writes.length >= 2);
      const [a, b] = [writes[0]!, writes[writes.length - 1]!];
      b.result = { kind: 'put', revision: a.result!.revision };
      assertViolation(history);
    }
  });

  it('one CAS answer flipped from success to failure, with no maybe-applied writes, is a violation', () => {
    let flipped = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const history = generateHistory({ seed, clients: 4, keys: 2, opsPerClient: 30, maybeRate: 0 });
      const won = history.find((h) => h.result?.kind === 'cas' && h.result.succeeded);
      if (won === undefined) continue;
      won.result = { kind: 'cas', succeeded: false, revision: won.result!.revision };
      flipped++;
      assertViolation(history);
    }
    assert.ok(flipped >= 20, `flipped ${flipped}`);
  });
});
