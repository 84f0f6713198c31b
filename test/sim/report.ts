// Formatting of simulation results for humans: one line per passing seed in summaries, and a
// failure block with the seed, the broken invariant, the replay command and the tail of the trace.

import type { SimResult } from './cluster.js';

export function formatFailure(r: SimResult, traceLines = 25): string {
  const head = (r.failure ?? '').split('\n');
  return [
    `SIM FAILURE seed=${r.seed} nodes=${r.nodes} votersAtEnd=${r.votersAtEnd} (${r.config})`,
    `  ${head[0] ?? ''}`,
    ...(r.harnessError === true ? head.slice(1, 8).map((l) => `  ${l}`) : []),
    `  replay: ${r.replay}   (prefix SIM_TRACE=1 for a full trace)`,
    `  last steps:`,
    ...r.traceTail.slice(-traceLines).map((l) => `    ${l}`),
  ].join('\n');
}

export function formatCounters(r: SimResult): string {
  const c = r.counters;
  return `seed=${r.seed} ok=${r.ok} steps=${c.steps} ticks=${c.ticks} props=${c.proposals} applied=${c.entriesApplied} ` +
    `reads=${c.readsAnswered}/${c.reads} misrouted=${c.readsMisrouted} conf=${c.confChangesApplied}/${c.confChanges} elections=${c.elections} ` +
    `crashes=${c.crashes} snaps=${c.snapshotsCreated}/${c.snapshotsInstalled} partitions=${c.partitions}`;
}
