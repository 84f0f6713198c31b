// The run's history recorder: a bounded ring of trace lines (what happened, when, on which node)
// plus counters for the run summary. With `live` set (SIM_TRACE=1) every line is also written to
// stderr as it happens, which is how a failing seed is replayed and read. The ring keeps the tail
// so that a failure report can show the last steps before the broken invariant even without a
// live trace.

import assert from 'node:assert/strict';

/** Lines kept for the failure report; older ones are overwritten. */
export const TRACE_RING_LINES_MAX = 400;

export interface RunCounters {
  steps: number;
  ticks: number;
  proposals: number;
  proposalsDropped: number;
  confChanges: number;
  confChangesApplied: number;
  transfers: number;
  reads: number;
  readsAnswered: number;
  /** ReadStates that reached a node other than the issuer (FINDINGS.md F4). */
  readsMisrouted: number;
  entriesApplied: number;
  snapshotsCreated: number;
  snapshotsInstalled: number;
  crashes: number;
  restarts: number;
  partitions: number;
  elections: number;
  livenessChecks: number;
}

export function emptyCounters(): RunCounters {
  return {
    steps: 0, ticks: 0, proposals: 0, proposalsDropped: 0, confChanges: 0, confChangesApplied: 0,
    transfers: 0, reads: 0, readsAnswered: 0, readsMisrouted: 0, entriesApplied: 0, snapshotsCreated: 0,
    snapshotsInstalled: 0, crashes: 0, restarts: 0, partitions: 0, elections: 0, livenessChecks: 0,
  };
}

export class History {
  // ring[(head + k) % length] for k in [0, count) are the kept lines, oldest first.
  private readonly ring: string[] = [];
  private head = 0;
  readonly counters: RunCounters = emptyCounters();

  constructor(private readonly live: boolean) {}

  record(now: number, who: string, what: string): void {
    const line = `t=${String(now).padStart(6)} ${who.padEnd(4)} ${what}`;
    if (this.live) process.stderr.write(line + '\n');
    if (this.ring.length < TRACE_RING_LINES_MAX) {
      this.ring.push(line);
    } else {
      this.ring[this.head] = line;
      this.head = (this.head + 1) % TRACE_RING_LINES_MAX;
    }
    assert.ok(this.ring.length <= TRACE_RING_LINES_MAX);
  }

  /** The last `n` recorded lines, oldest first. */
  tail(n: number): string[] {
    assert.ok(n >= 0);
    const ordered = [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
    return ordered.slice(Math.max(0, ordered.length - n));
  }
}
