// The simulation as part of `npm test`: a few hundred seeds of a short chaos phase each, for 3- and
// 5-member clusters, plus the determinism of a replay. A failure names the seed, the invariant and
// the command that replays it. The long run (thousands of seeds) is test/sim/long.ts.
//
// Safety (every invariant of checker.ts, and no assertion in the core or the harness) and liveness
// (a leader commits on every member after healing) are reported by separate tests. If a core bug
// ever has to be tolerated for a while, set LIVENESS_TODO to its FINDINGS.md entry: the liveness
// test then still runs and prints the failing seeds without failing the suite.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSimulation, type SimResult } from './cluster.js';
import { formatFailure } from './report.js';

/** Seeds per cluster size; sized so the file stays well under a minute on two slow cores. */
const SEEDS_PER_SIZE = 250;
/** Chaos ticks per seed (the long run default too). */
const CHAOS_TICKS = 300;
/** Open core bug that makes some seeds fail the liveness check (see the header). */
const LIVENESS_TODO: string | undefined = undefined;

interface Batch {
  results: SimResult[];
  applied: number;
  elections: number;
}

function runSeeds(nodes: number, firstSeed: number): Batch {
  const batch: Batch = { results: [], applied: 0, elections: 0 };
  for (let seed = firstSeed; seed < firstSeed + SEEDS_PER_SIZE; seed++) {
    const r = runSimulation({ seed, nodes, chaosTicks: CHAOS_TICKS });
    batch.applied += r.counters.entriesApplied;
    batch.elections += r.counters.elections;
    batch.results.push(r);
  }
  return batch;
}

const isLiveness = (r: SimResult): boolean => !r.ok && (r.failure ?? '').startsWith('liveness');

function assertSafe(b: Batch): void {
  const unsafe = b.results.filter((r) => !r.ok && !isLiveness(r));
  assert.equal(unsafe.length, 0, `${unsafe.length}/${SEEDS_PER_SIZE} seeds broke safety:\n` +
    unsafe.slice(0, 3).map((r) => formatFailure(r, 15)).join('\n'));
  // The runs must have done real work, or the invariants were checked on nothing.
  assert.ok(b.applied > SEEDS_PER_SIZE * 50, `only ${b.applied} entries applied over ${SEEDS_PER_SIZE} seeds`);
  assert.ok(b.elections >= SEEDS_PER_SIZE, `only ${b.elections} elections over ${SEEDS_PER_SIZE} seeds`);
}

function assertLive(b: Batch): void {
  const stuck = b.results.filter(isLiveness);
  assert.equal(stuck.length, 0, `${stuck.length}/${SEEDS_PER_SIZE} seeds failed the liveness check ` +
    `(seeds ${stuck.map((r) => r.seed).join(',')}):\n${stuck.slice(0, 1).map((r) => formatFailure(r, 5)).join('\n')}`);
}

let three: Batch | undefined;
let five: Batch | undefined;

test('3-member clusters keep every safety invariant under faults', () => {
  three = runSeeds(3, 1);
  assertSafe(three);
});

test('5-member clusters keep every safety invariant under faults', () => {
  five = runSeeds(5, 100_001);
  assertSafe(five);
});

test('after healing, a leader commits a proposal on every member', LIVENESS_TODO === undefined ? {} : { todo: LIVENESS_TODO }, () => {
  assert.ok(three !== undefined && five !== undefined, 'the safety runs come first');
  assertLive(three);
  assertLive(five);
});

test('a seed replays identically', () => {
  const a = runSimulation({ seed: 4242, chaosTicks: CHAOS_TICKS });
  const b = runSimulation({ seed: 4242, chaosTicks: CHAOS_TICKS });
  assert.deepEqual(b.counters, a.counters);
  assert.deepEqual(b.traceTail, a.traceTail);
  assert.equal(b.timeUnits, a.timeUnits);
});
