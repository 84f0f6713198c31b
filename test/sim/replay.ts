// Replays one seed of the simulation and prints its verdict; the command printed by every
// failure. Environment: SIM_SEED (required), SIM_NODES (3 or 5; default drawn from the seed),
// SIM_TICKS (chaos ticks; default 300), SIM_TRACE=1 (write the full trace to stderr).
//
//   SIM_SEED=1234 node --import tsx test/sim/replay.ts

import { runSimulation, type SimOptions } from './cluster.js';
import { formatCounters, formatFailure } from './report.js';

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  return n;
}

const seed = envInt('SIM_SEED');
if (seed === undefined) {
  process.stderr.write('usage: SIM_SEED=<n> [SIM_NODES=3|5] [SIM_TICKS=300] [SIM_TRACE=1] node --import tsx test/sim/replay.ts\n');
  process.exit(2);
}
const opts: SimOptions = { seed, trace: process.env['SIM_TRACE'] === '1' };
const nodes = envInt('SIM_NODES');
const ticks = envInt('SIM_TICKS');
if (nodes !== undefined) opts.nodes = nodes;
if (ticks !== undefined) opts.chaosTicks = ticks;
const r = runSimulation(opts);
process.stdout.write(formatCounters(r) + '\n');
if (!r.ok) {
  process.stdout.write(formatFailure(r) + '\n');
  process.exit(1);
}
