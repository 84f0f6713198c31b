// The RESULTS.md entry: machine, exact command, figures, ratios, errors and failures.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOptions } from '../options.js';
import { machineInfo, markdownSummary } from '../report.js';
import type { RunRecord } from '../report.js';
import type { PointResult } from '../stats.js';

function fakePoint(target: string, opsPerS: number, p50: number, errors: Record<string, number>): PointResult {
  return {
    target, clients: 16, threads: 2, round: 0, windowS: 10, ops: opsPerS * 10, opsPerS,
    latencyUs: { p50, p90: p50 * 2, p99: p50 * 4, p999: p50 * 8, max: p50 * 10, mean: p50 },
    errors, errorCount: Object.values(errors).reduce((s, n) => s + n, 0), outcomes: {},
    generatorCpuCores: 0.3, serverCpuCores: 1.25, histogramB64: '',
  };
}

test('markdown summary carries machine, command, table, ratios, errors and failures', () => {
  const machine = machineInfo();
  assert.ok(machine.cores >= 1);
  const run: RunRecord = {
    startedAt: '2026-01-01T00:00:00.000Z',
    command: 'npm run bench -- put --compare etcd',
    scenario: 'put',
    options: parseOptions(['put', '--compare', 'etcd'], 2),
    machine,
    points: [],
    merged: [fakePoint('tetcd', 1000, 4000, { 'net ECONNRESET': 2 }), fakePoint('etcd', 2000, 2000, {})],
    ratios: [{ clients: 16, opsPerS: 0.5, p50: 2, p90: 2, p99: 2, p999: 2, max: 2 }],
    failures: ['tetcd (round 2): did not start'],
    profileDir: undefined,
  };
  const md = markdownSummary(run, 'bench/out/x.json');
  assert.match(md, /^### put: tetcd vs etcd, 2026-01-01/);
  assert.match(md, new RegExp(`${machine.cores} cores`));
  assert.match(md, /```sh\nnpm run bench -- put --compare etcd\n```/);
  assert.match(md, /\| tetcd \| 16 \| 1000 \| 4\.000 \| 8\.000 \| 16\.0 \| 32\.0 \| 40\.0 \| 2 \| 30% \| 125% \|/);
  assert.match(md, /\| 16 clients \| 0\.50 \| 2\.00 \|/);
  assert.match(md, /tetcd, 16 clients: 2 × `net ECONNRESET`/);
  assert.match(md, /Not measured: tetcd \(round 2\): did not start/);
  assert.match(md, /2 round\(s\) per target alternating tetcd\/etcd/);
});
