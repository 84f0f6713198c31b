// `npm run bench -- <scenario> [flags]`: the bench's entry point (see bench/README.md).
//
// A run is rounds × targets × client counts points. Each round starts every target fresh (a
// new server with an empty temp data dir), runs the scenario's `prepare()`, measures each client
// count in turn and stops the server. With `--compare etcd` the targets alternate tetcd, etcd,
// tetcd, etcd... so slow drift of the machine (page cache, thermal, other tenants) hits both
// alike. Rounds are then merged per target and client count, ratios computed, and the results
// printed, written to bench/out/*.json, appended to bench/RESULTS.md and drawn in
// bench/charts/<scenario>.svg. A watchdog bounds the whole run, so it always exits by itself.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Piscina } from 'piscina';
import { ledgerBytes, ledgerBytesMax, runFanoutPoint } from './fanout-runner.js';
import { RawConnection } from './http-client.js';
import { isLeasePoint, LEASE_SCENARIO, leaseRoundBudgetS, mergeLeaseRounds } from './lease.js';
import type { LeasePoint } from './lease.js';
import { runLeaseRound } from './lease-runner.js';
import { fanoutParams, leaseParams, parseOptions, USAGE, UsageError } from './options.js';
import type { BenchOptions, FanoutParams } from './options.js';
import { fanoutRatiosTable, fanoutTable, leaseRatiosTable, leaseTable, machineInfo, pointsTable, ratiosTable, writeRunFiles } from './report.js';
import type { RunRecord } from './report.js';
import { createPool, runPoint, warmPool } from './runner.js';
import type { PrepareContext, Scenario, ScenarioOptions } from './scenario.js';
import { listScenarios, loadScenario } from './scenario-loader.js';
import { BENCH_DIR, startCeilingServer, startEtcd, startTetcd } from './servers.js';
import type { RunningServer } from './servers.js';
import { mergeRounds, ratios } from './stats.js';
import type { PointResult, Ratios } from './stats.js';
import { renderChart } from './svg.js';

/** Seconds allowed per server start and per point beyond its warm-up and duration. */
const startAllowanceS = 90;
const pointAllowanceS = 45;
const prepareTimeoutMs = 120_000;
const prepareRequestTimeoutMs = 10_000;

interface TargetPlan {
  readonly label: string;
  start(): Promise<RunningServer>;
}

function planTargets(o: BenchOptions, scenario: Scenario, profileDir: string | undefined): TargetPlan[] {
  const members = o.members ?? scenario.membersDefault ?? 1;
  const tetcd = (): TargetPlan => ({
    label: 'tetcd',
    start: () => startTetcd({ members, env: profileDir === undefined ? {} : { TETCD_CPU_PROFILE_DIR: profileDir } }),
  });
  const etcd: TargetPlan = { label: 'etcd', start: () => startEtcd({ members }) };
  if (o.scenario === 'ceiling') return [{ label: 'fastify', start: startCeilingServer }];
  if (o.endpoints.length > 0) {
    const given: RunningServer = { kind: 'etcd', endpoints: o.endpoints, pids: [], stop: async () => {} };
    return [{ label: o.target ?? 'given', start: async () => given }];
  }
  if (o.compare) return [tetcd(), etcd];
  return [o.target === 'etcd' ? etcd : tetcd()];
}

function scenarioOptions(o: BenchOptions): ScenarioOptions {
  return { keyCount: o.keyCount, valueBytes: o.valueBytes, readRatio: o.readRatio, params: o.params };
}

async function prepare(scenario: Scenario, server: RunningServer, options: ScenarioOptions): Promise<void> {
  if (scenario.prepare === undefined) return;
  const conns = new Map<number, RawConnection>();
  const ctx: PrepareContext = {
    endpoints: server.endpoints,
    options,
    send: (lane, req) => {
      let c = conns.get(lane);
      if (c === undefined) {
        c = new RawConnection(server.endpoints[lane % server.endpoints.length] ?? '', prepareRequestTimeoutMs);
        conns.set(lane, c);
      }
      return c.request(req);
    },
  };
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`prepare took over ${prepareTimeoutMs} ms`)), prepareTimeoutMs).unref());
  try {
    await Promise.race([scenario.prepare(ctx), timeout]);
  } finally {
    for (const c of conns.values()) c.close();
  }
}

const fmtMs = (us: number): string => (us / 1000).toFixed(2);

function progressLine(p: PointResult): string {
  const l = p.latencyUs;
  return `[${p.target} round ${p.round}] ${p.clients} clients: ${Math.round(p.opsPerS)} ops/s, p50 ${fmtMs(l.p50)} ms, ` +
    `p99 ${fmtMs(l.p99)} ms, max ${fmtMs(l.max)} ms, errors ${p.errorCount}` +
    `${p.generatorCpuCores === undefined ? '' : `, bench CPU ${Math.round(p.generatorCpuCores * 100)}%`}` +
    `${p.serverCpuCores === undefined ? '' : `, server CPU ${Math.round(p.serverCpuCores * 100)}%`}` +
    Object.entries(p.outcomes).map(([k, n]) => `, ${k} ${n}`).join('') +
    Object.entries(p.errors).map(([k, n]) => `\n    ${n} × ${k}`).join('');
}

function fanoutProgressLine(p: PointResult): string {
  const f = p.fanout;
  assert.ok(f !== undefined, 'a fan-out point');
  const l = p.latencyUs;
  return `[${p.target} round ${p.round}] ${p.clients} ${f.transport} watchers: ${Math.round(p.opsPerS)} events/s ` +
    `(puts ${Math.round(f.putsAckedPerS)}/s of ${f.putRatePerS}), p50 ${fmtMs(l.p50)} ms, p99 ${fmtMs(l.p99)} ms, max ${fmtMs(l.max)} ms, ` +
    `missed ${f.missed}, duplicates ${f.duplicates}, reordered ${f.reordered}, undelivered ${f.undelivered}, ` +
    `open ${f.openS.toFixed(1)} s, server RSS +${Math.round(f.rssPerWatcherBytes)} B/watcher, drain ${Math.round(f.drainMsMax)} ms` +
    `${p.generatorCpuCores === undefined ? '' : `, bench CPU ${Math.round(p.generatorCpuCores * 100)}%`}` +
    `${p.serverCpuCores === undefined ? '' : `, server CPU ${Math.round(p.serverCpuCores * 100)}%`}` +
    Object.entries(p.errors).map(([k, n]) => `\n    ${n} × ${k}`).join('');
}

function leaseProgressLine(p: LeasePoint): string {
  const f = p.lease;
  const l = p.latencyUs;
  const cpu = (x: number | undefined): string => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);
  return `[${p.target} round ${p.round}] ${p.clients} leases: granted at ${Math.round(f.grantPerS)}/s, idle CPU ${cpu(f.idleBaseCpuCores)} -> ${cpu(f.idleCpuCores)}, ` +
    `RSS +${Math.round(f.rssPerLeaseBytes)} B/lease; ${f.streams} ${f.transport} streams: ${Math.round(p.opsPerS)} keep-alives/s, ` +
    `p50 ${fmtMs(l.p50)} ms, p99 ${fmtMs(l.p99)} ms, max ${fmtMs(l.max)} ms, errors ${p.errorCount}, expired ${f.expired}, restarts ${f.restarts}` +
    `${p.generatorCpuCores === undefined ? '' : `, bench CPU ${Math.round(p.generatorCpuCores * 100)}%`}` +
    `${p.serverCpuCores === undefined ? '' : `, server CPU ${Math.round(p.serverCpuCores * 100)}%`}` +
    Object.entries(p.errors).map(([k, n]) => `\n    ${n} × ${k}`).join('');
}

/** The points of one target and round: one per client count, or per watcher count (fan-out), or per lease count. */
async function measurePoints(pool: Piscina, o: BenchOptions, scenario: Scenario, plan: TargetPlan, round: number, server: RunningServer): Promise<PointResult[]> {
  const points: PointResult[] = [];
  if (o.scenario === LEASE_SCENARIO) {
    return await runLeaseRound({
      target: plan.label, round, endpoints: server.endpoints, serverPids: server.pids, ownsServer: o.endpoints.length === 0,
      leaseCounts: o.leaseCounts, transport: o.transport, params: leaseParams(o.params),
      warmupMs: o.warmupS * 1000, durationMs: o.durationS * 1000, requestTimeoutMs: o.requestTimeoutMs,
    }, (p) => process.stderr.write(`${leaseProgressLine(p)}\n`));
  }
  if (scenario.streams === 'watch-fanout') {
    const fp = fanoutParams(o.params);
    for (const watchers of o.watcherCounts) {
      const point = await runFanoutPoint(pool, {
        target: plan.label, round, endpoints: server.endpoints, serverPids: server.pids, watchers, threads: o.threads,
        warmupMs: o.warmupS * 1000, durationMs: o.durationS * 1000, transport: o.transport, ratePerS: o.ratePerS,
        watchesPerSocket: fp.watchesPerSocket, openRatePerS: fp.openRatePerS, drainMs: fp.drainS * 1000,
        requestTimeoutMs: o.requestTimeoutMs, valueBytes: o.valueBytes,
      });
      process.stderr.write(`${fanoutProgressLine(point)}\n`);
      points.push(point);
    }
    return points;
  }
  for (const clients of o.clientCounts) {
    const point = await runPoint(pool, {
      target: plan.label, round, scenario: o.scenario, endpoints: server.endpoints, serverPids: server.pids,
      clients, threads: o.threads, warmupMs: o.warmupS * 1000, durationMs: o.durationS * 1000,
      options: scenarioOptions(o), http: o.http, requestTimeoutMs: o.requestTimeoutMs,
    });
    process.stderr.write(`${progressLine(point)}\n`);
    points.push(point);
  }
  return points;
}

/** The server currently running, so that SIGINT can stop it cleanly. */
let current: RunningServer | undefined;

async function measureTarget(pool: Piscina, o: BenchOptions, scenario: Scenario, plan: TargetPlan, round: number): Promise<PointResult[]> {
  const server = await plan.start();
  current = server;
  try {
    await prepare(scenario, server, scenarioOptions(o));
    return await measurePoints(pool, o, scenario, plan, round, server);
  } finally {
    current = undefined;
    await server.stop();
  }
}

/** Runs all rounds; a target that fails is recorded and skipped in later rounds. */
async function measureAll(pool: Piscina, o: BenchOptions, scenario: Scenario, plans: TargetPlan[]): Promise<{ points: PointResult[]; failures: string[] }> {
  const points: PointResult[] = [];
  const failures: string[] = [];
  const failed = new Set<string>();
  for (let round = 1; round <= o.rounds; round++) {
    for (const plan of plans) {
      if (failed.has(plan.label)) continue;
      try {
        points.push(...await measureTarget(pool, o, scenario, plan, round));
      } catch (err) {
        failed.add(plan.label);
        const why = err instanceof Error ? err.message : String(err);
        failures.push(`${plan.label} (round ${round}): ${why.split('\n')[0] ?? why}`);
        process.stderr.write(`[${plan.label} round ${round}] FAILED: ${why}\n`);
      }
    }
  }
  return { points, failures };
}

function mergeAll(points: readonly PointResult[]): PointResult[] {
  const groups = new Map<string, PointResult[]>();
  for (const p of points) groups.set(`${p.target}\0${p.clients}`, [...(groups.get(`${p.target}\0${p.clients}`) ?? []), p]);
  return [...groups.values()].map((g) => (g.every(isLeasePoint) ? mergeLeaseRounds(g) : mergeRounds(g)));
}

function ratiosOf(merged: readonly PointResult[]): Ratios[] {
  const out: Ratios[] = [];
  for (const t of merged.filter((p) => p.target === 'tetcd')) {
    const e = merged.find((p) => p.target === 'etcd' && p.clients === t.clients);
    if (e !== undefined) out.push(ratios(t, e));
  }
  return out;
}

function shellQuote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Seconds the points of one target and round may take: window, warm-up, allowance (and fan-out's opening and drain). */
function pointsBudgetS(o: BenchOptions, fanout: FanoutParams | undefined): number {
  const base = o.warmupS + o.durationS + pointAllowanceS;
  if (o.scenario === LEASE_SCENARIO) return leaseRoundBudgetS(o.leaseCounts, leaseParams(o.params), o.warmupS, o.durationS, o.requestTimeoutMs / 1000) + pointAllowanceS;
  if (fanout === undefined) return o.clientCounts.length * base;
  const perW = (w: number): number => base + w / fanout.openRatePerS + 30 + 1 + o.requestTimeoutMs / 1000 + fanout.drainS + 5;
  return o.watcherCounts.reduce((s, w) => s + perW(w), 0);
}

function startWatchdog(o: BenchOptions, targets: number, fanout: FanoutParams | undefined): void {
  const totalS = o.rounds * targets * (startAllowanceS + pointsBudgetS(o, fanout));
  const points = o.scenario === LEASE_SCENARIO ? o.leaseCounts.length : fanout === undefined ? o.clientCounts.length : o.watcherCounts.length;
  process.stderr.write(`bench: ${o.rounds} round(s) × ${targets} target(s) × ${points} point(s) of ${o.warmupS}+${o.durationS} s; watchdog at ${Math.round(totalS)} s\n`);
  setTimeout(() => {
    process.stderr.write(`bench: watchdog: still running after ${Math.round(totalS)} s, giving up\n`);
    process.exit(3);
  }, totalS * 1000).unref();
}

/** The lease run's console output and files: its own table, ratios and chart. */
function printAndRecordLease(run: RunRecord): void {
  process.stdout.write(`\n${leaseTable(run.merged)}\n`);
  const ratiosText = leaseRatiosTable(run.merged);
  if (ratiosText !== '') process.stdout.write(`\n${ratiosText}\n`);
  for (const f of run.failures) process.stdout.write(`\nnot measured: ${f}\n`);
  if (!run.options.record || run.merged.length === 0) return;
  const json = writeRunFiles(BENCH_DIR, run);
  const chartDir = path.join(BENCH_DIR, 'charts');
  fs.mkdirSync(chartDir, { recursive: true });
  const subtitle = `${run.machine.cores} cores, Node ${run.machine.node}, ${run.options.durationS} s per point, ${run.startedAt}`;
  const name = `${run.scenario}-${run.options.transport}`;
  fs.writeFileSync(path.join(chartDir, `${name}.svg`), renderChart(`lease keep-alives (${run.options.transport} streams)`, subtitle, run.merged, { x: 'leases', throughput: 'keep-alives/s' }));
  process.stdout.write(`\nwrote ${json}, appended bench/RESULTS.md, drew bench/charts/${name}.svg\n`);
}

function printAndRecord(run: RunRecord): void {
  if (run.merged.some(isLeasePoint)) {
    printAndRecordLease(run);
    return;
  }
  const fanout = run.merged.some((p) => p.fanout !== undefined);
  process.stdout.write(`\n${fanout ? fanoutTable(run.merged) : pointsTable(run.merged)}\n`);
  if (run.ratios.length > 0) process.stdout.write(`\n${fanout ? fanoutRatiosTable(run.ratios) : ratiosTable(run.ratios)}\n`);
  for (const f of run.failures) process.stdout.write(`\nnot measured: ${f}\n`);
  if (run.options.record && run.merged.length > 0) {
    const json = writeRunFiles(BENCH_DIR, run);
    const chartDir = path.join(BENCH_DIR, 'charts');
    fs.mkdirSync(chartDir, { recursive: true });
    const subtitle = `${run.machine.cores} cores, Node ${run.machine.node}, ${run.options.durationS} s per point, ${run.startedAt}`;
    const name = fanout ? `${run.scenario}-${run.options.transport}` : run.scenario;
    const names = fanout ? { x: 'watchers', throughput: 'events/s' } : undefined;
    fs.writeFileSync(path.join(chartDir, `${name}.svg`), renderChart(fanout ? `${run.scenario} (${run.options.transport}, ${run.options.ratePerS} puts/s)` : run.scenario, subtitle, run.merged, names));
    process.stdout.write(`\nwrote ${json}, appended bench/RESULTS.md, drew bench/charts/${name}.svg\n`);
  }
  if (run.profileDir !== undefined) {
    process.stdout.write(`\nCPU profiles (one per tetcd thread and round): ${run.profileDir}\n` +
      'open them in Chrome DevTools (Performance > Load profile) or https://www.speedscope.app\n');
  }
}

/** The fan-out's knobs, and its bookkeeping within bounds for the largest W. */
function checkFanout(o: BenchOptions): FanoutParams {
  const fp = fanoutParams(o.params);
  const bytes = ledgerBytes(Math.max(...o.watcherCounts), o.ratePerS, o.warmupS * 1000, o.durationS * 1000);
  if (bytes > ledgerBytesMax) {
    throw new UsageError(`watch: ${Math.max(...o.watcherCounts)} watchers × ${o.ratePerS} puts/s × ${o.warmupS + o.durationS} s needs ` +
      `${Math.round(bytes / 2 ** 20)} MiB of bookkeeping (bound ${ledgerBytesMax / 2 ** 20} MiB): lower --rate, --duration or --watchers`);
  }
  return fp;
}

async function main(argv: readonly string[]): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(`${USAGE}\nscenarios: ${listScenarios().join(', ')}\n`);
    return 0;
  }
  const scenario = await loadScenario(o.scenario);
  let fanout: FanoutParams | undefined;
  try {
    fanout = scenario.streams === 'watch-fanout' ? checkFanout(o) : undefined;
    if (o.scenario === LEASE_SCENARIO) leaseParams(o.params);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n`);
    return 2;
  }
  const startedAt = new Date().toISOString();
  const profileDir = o.profile ? path.join(BENCH_DIR, 'out', 'profiles', startedAt.replace(/[:.]/g, '-')) : undefined;
  const plans = planTargets(o, scenario, profileDir);
  assert.ok(plans.length >= 1, 'at least one target');
  startWatchdog(o, plans.length, fanout);
  const pool = createPool(o.threads);
  try {
    await warmPool(pool, o.threads, o.scenario);
    const { points, failures } = await measureAll(pool, o, scenario, plans);
    const merged = mergeAll(points);
    printAndRecord({
      startedAt, command: `npm run bench -- ${argv.map(shellQuote).join(' ')}`, scenario: o.scenario, options: o,
      machine: machineInfo(), points, merged, ratios: ratiosOf(merged), failures,
      profileDir: profileDir !== undefined && fs.existsSync(profileDir) ? path.relative(process.cwd(), profileDir) : undefined,
    });
    return merged.length > 0 ? 0 : 1;
  } finally {
    await pool.destroy();
  }
}

process.on('SIGINT', () => {
  process.stderr.write('bench: interrupted, stopping the server\n');
  void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
});

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
