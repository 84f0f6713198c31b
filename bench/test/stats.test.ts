// Merging figures across workers and rounds, ratios, client splitting, and the chart.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import { newLatencyHistogram } from '../load-worker.js';
import { splitClients } from '../runner.js';
import { mergeRounds, pointFromWorkers, ratios } from '../stats.js';
import type { PointResult } from '../stats.js';
import { niceCeil, renderChart } from '../svg.js';

function encoded(values: number[]): string {
  const h = newLatencyHistogram();
  for (const v of values) h.recordValue(v);
  const b64 = hdr.encodeIntoCompressedBase64(h);
  h.destroy();
  return b64;
}

function point(target: string, clients: number, round: number, latencies: number[], windowS = 2): PointResult {
  return pointFromWorkers({ target, clients, threads: 1, round, windowS, generatorCpuCores: 0.5, serverCpuCores: undefined }, [
    { histogramB64: encoded(latencies), ops: latencies.length, warmupOps: 0, errors: latencies.length > 2 ? { 'net ECONNRESET': 1 } : {}, outcomes: {} },
  ]);
}

test('workers merge into one point: ops, rate, percentiles, errors', () => {
  const p = pointFromWorkers({ target: 'etcd', clients: 2, threads: 2, round: 1, windowS: 4, generatorCpuCores: undefined, serverCpuCores: 1 }, [
    { histogramB64: encoded([100, 100, 100]), ops: 3, warmupOps: 9, errors: { a: 1 }, outcomes: { 'cas-conflict': 2 } },
    { histogramB64: encoded([1000, 5000]), ops: 2, warmupOps: 9, errors: { a: 2, b: 1 }, outcomes: {} },
  ]);
  assert.equal(p.ops, 5);
  assert.equal(p.opsPerS, 5 / 4);
  assert.equal(p.latencyUs.p50, 100);
  assert.ok(Math.abs(p.latencyUs.max - 5000) <= 5, `max ${p.latencyUs.max}`);
  assert.deepEqual(p.errors, { a: 3, b: 1 });
  assert.equal(p.errorCount, 4);
  assert.deepEqual(p.outcomes, { 'cas-conflict': 2 });
  assert.throws(() => pointFromWorkers({ target: 'x', clients: 1, threads: 1, round: 1, windowS: 1, generatorCpuCores: undefined, serverCpuCores: undefined },
    [{ histogramB64: encoded([1]), ops: 2, warmupOps: 0, errors: {}, outcomes: {} }]), /exactly one latency/);
});

test('rounds merge over summed windows; ratios are tetcd/etcd', () => {
  const m = mergeRounds([point('etcd', 16, 1, [200, 200, 200, 200]), point('etcd', 16, 2, [400, 400])]);
  assert.equal(m.round, 0);
  assert.equal(m.ops, 6);
  assert.equal(m.opsPerS, 6 / 4);
  assert.equal(m.latencyUs.p50, 200);
  assert.deepEqual(m.errors, { 'net ECONNRESET': 1 });
  assert.throws(() => mergeRounds([point('etcd', 16, 1, [1]), point('tetcd', 16, 1, [1])]), /unlike/);
  const r = ratios(point('tetcd', 16, 0, [400, 400]), point('etcd', 16, 0, [200, 200, 200, 200]));
  assert.equal(r.opsPerS, 0.5);
  assert.ok(Math.abs(r.p50 - 2) < 0.01, `p50 ratio ${r.p50}`);
});

test('clients are split evenly over at most that many workers', () => {
  assert.deepEqual(splitClients(1, 4), [1]);
  assert.deepEqual(splitClients(16, 2), [8, 8]);
  assert.deepEqual(splitClients(7, 3), [3, 2, 2]);
  for (const [c, t] of [[64, 5], [3, 8], [1000, 7]] as const) assert.equal(splitClients(c, t).reduce((s, x) => s + x, 0), c);
});

test('chart: one line per target in each panel, escaped text', () => {
  assert.equal(niceCeil(7300), 10_000);
  assert.equal(niceCeil(1200), 2000);
  const pts = [point('etcd', 1, 0, [100]), point('etcd', 16, 0, [900, 1000]), point('tetcd', 1, 0, [300]), point('tetcd', 16, 0, [3000])];
  const svg = renderChart('put <kv>', '2 cores & co', pts);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /put &lt;kv&gt;/);
  assert.match(svg, /2 cores &amp; co/);
  // Throughput: 1 line per target; latency: 3 percentiles per target.
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2 + 2 * 3);
  assert.ok(!svg.includes('NaN'), 'no NaN coordinates');
  assert.match(svg.trimEnd(), /<\/svg>$/);
});
