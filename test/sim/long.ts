// The long run: thousands of seeds, one after another, with a summary line at the end.
// Environment: SIM_SEEDS (how many; default 1000), SIM_FROM (first seed; default 1),
// SIM_TICKS (chaos ticks per seed; default 300), SIM_NODES (force 3 or 5).
//
//   SIM_SEEDS=5000 node --import tsx test/sim/long.ts
//
// Exits 1 if any seed failed, after printing each failure with its replay command.

import { runSimulation, type SimOptions } from './cluster.js';
import { formatFailure } from './report.js';

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  return n;
}

const count = envInt('SIM_SEEDS', 1000);
const from = envInt('SIM_FROM', 1);
const ticks = envInt('SIM_TICKS', 300);
const nodesEnv = process.env['SIM_NODES'];
const startMs = performance.now();
const failed: number[] = [];
/** Failing seeds per broken invariant ('assertion' for a failed node:assert in core or harness). */
const byInvariant = new Map<string, number[]>();
let steps = 0;
let misrouted = 0;
for (let seed = from; seed < from + count; seed++) {
  const opts: SimOptions = { seed, chaosTicks: ticks };
  if (nodesEnv !== undefined && nodesEnv !== '') opts.nodes = Number(nodesEnv);
  const r = runSimulation(opts);
  steps += r.counters.steps;
  misrouted += r.counters.readsMisrouted;
  if (!r.ok) {
    failed.push(seed);
    const invariant = r.harnessError === true ? 'assertion' : (r.failure ?? '').split(':')[0] ?? '?';
    const seen = byInvariant.get(invariant) ?? [];
    seen.push(seed);
    byInvariant.set(invariant, seen);
    process.stdout.write(formatFailure(r, 10) + '\n');
  }
  if ((seed - from + 1) % 500 === 0) process.stderr.write(`... ${seed - from + 1} seeds, ${failed.length} failed\n`);
}
const secs = (performance.now() - startMs) / 1000;
process.stdout.write(`sim long: seeds run=${count} (from ${from}, ${ticks} chaos ticks each) failures=${failed.length}` +
  `${failed.length > 0 ? ` [${failed.slice(0, 20).join(',')}${failed.length > 20 ? ',...' : ''}]` : ''}` +
  ` misroutedReads=${misrouted} steps=${steps} time=${secs.toFixed(1)}s\n`);
for (const [invariant, seeds] of [...byInvariant].sort((a, b) => b[1].length - a[1].length)) {
  process.stdout.write(`  ${invariant}: ${seeds.length} [${seeds.slice(0, 12).join(',')}${seeds.length > 12 ? ',...' : ''}]\n`);
}
process.exit(failed.length > 0 ? 1 : 0);
