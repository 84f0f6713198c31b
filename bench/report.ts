// The results of a run, in three forms: the full record as JSON in `bench/out/` (every round's
// point with its merged latency histogram, for later analysis), a Markdown summary appended to
// `bench/RESULTS.md` (machine, exact command, figures, ratios) and the console table. The
// formatting functions are pure; only `writeRunFiles()` touches the disk.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isLeasePoint, leaseRatios } from './lease.js';
import type { LeasePoint } from './lease.js';
import type { BenchOptions } from './options.js';
import type { PointResult, Ratios } from './stats.js';

export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  /** `df -hT` of the directory the servers' data dirs live in (the temp dir). */
  readonly disk: string;
}

export interface RunRecord {
  readonly startedAt: string;
  readonly command: string;
  readonly scenario: string;
  readonly options: BenchOptions;
  readonly machine: MachineInfo;
  /** Every round's points, in the order they ran. */
  readonly points: PointResult[];
  /** Per target and client count, all rounds merged. */
  readonly merged: PointResult[];
  readonly ratios: Ratios[];
  /** Targets that could not be measured, with the reason. */
  readonly failures: string[];
  readonly profileDir: string | undefined;
}

export function machineInfo(): MachineInfo {
  let disk = 'unknown';
  try {
    const lines = execFileSync('df', ['-hT', os.tmpdir()], { encoding: 'utf8', timeout: 5_000 }).trim().split('\n');
    const f = (lines[1] ?? '').split(/\s+/);
    disk = `${f[0] ?? '?'} (${f[1] ?? '?'}, ${f[2] ?? '?'} size, ${f[4] ?? '?'} free) holding ${os.tmpdir()}`;
  } catch {
    // df missing: the figure stays 'unknown'.
  }
  return {
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    disk,
  };
}

const msOf = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 3 : 1);
const pct = (x: number | undefined): string => (x === undefined ? '-' : `${Math.round(x * 100)}%`);
const ratio = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');

export function pointsTable(points: readonly PointResult[]): string {
  const rows = [
    '| target | clients | ops/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | bench CPU | server CPU |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const p of points) {
    rows.push(`| ${p.target} | ${p.clients} | ${Math.round(p.opsPerS)} | ${msOf(p.latencyUs.p50)} | ${msOf(p.latencyUs.p90)} | ` +
      `${msOf(p.latencyUs.p99)} | ${msOf(p.latencyUs.p999)} | ${msOf(p.latencyUs.max)} | ${p.errorCount} | ` +
      `${pct(p.generatorCpuCores)} | ${pct(p.serverCpuCores)} |`);
  }
  return rows.join('\n');
}

export function ratiosTable(rs: readonly Ratios[]): string {
  const rows = ['| tetcd/etcd | ops/s | p50 | p90 | p99 | p99.9 | max |', '|--:|--:|--:|--:|--:|--:|--:|'];
  for (const r of rs) {
    rows.push(`| ${r.clients} clients | ${ratio(r.opsPerS)} | ${ratio(r.p50)} | ${ratio(r.p90)} | ${ratio(r.p99)} | ${ratio(r.p999)} | ${ratio(r.max)} |`);
  }
  return rows.join('\n');
}

const kib = (x: number): string => (Number.isFinite(x) ? `${(x / 1024).toFixed(1)}` : '-');

/** Watch fan-out points: events/s, latency (put ack -> event), the guarantees and the memory. */
export function fanoutTable(points: readonly PointResult[]): string {
  const rows = [
    '| target | transport | watchers | puts/s | events/s | p50 ms | p99 ms | max ms | from send p50 / p99 ms | missed | dup | reorder | undelivered | open s | RSS before MiB | RSS open MiB | KiB/watcher | bench CPU | server CPU |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const p of points) {
    const f = p.fanout;
    if (f === undefined) continue;
    rows.push(`| ${p.target} | ${f.transport}${f.transport === 'ws' ? ` (${f.watchesPerConn}/socket)` : ''} | ${p.clients} | ` +
      `${Math.round(f.putsAckedPerS)} | ${Math.round(p.opsPerS)} | ${msOf(p.latencyUs.p50)} | ${msOf(p.latencyUs.p99)} | ${msOf(p.latencyUs.max)} | ` +
      `${msOf(f.fromSendUs.p50)} / ${msOf(f.fromSendUs.p99)} | ${f.missed} | ${f.duplicates} | ${f.reordered} | ${f.undelivered} | ${f.openS.toFixed(1)} | ${kib(f.rssBeforeKiB)} | ${kib(f.rssOpenKiB)} | ` +
      `${(f.rssPerWatcherBytes / 1024).toFixed(1)} | ${pct(p.generatorCpuCores)} | ${pct(p.serverCpuCores)} |`);
  }
  return rows.join('\n');
}

export function fanoutRatiosTable(rs: readonly Ratios[]): string {
  const rows = ['| tetcd/etcd | events/s | p50 | p99 | max | memory/watcher |', '|--:|--:|--:|--:|--:|--:|'];
  for (const r of rs) rows.push(`| ${r.clients} watchers | ${ratio(r.opsPerS)} | ${ratio(r.p50)} | ${ratio(r.p99)} | ${ratio(r.max)} | ${ratio(r.rssPerWatcher ?? Number.NaN)} |`);
  return rows.join('\n');
}

const cores = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(1)}%`);

/** Lease points: grants, the cost at rest, keep-alives/s and latency (see bench/README.md). */
export function leaseTable(points: readonly PointResult[]): string {
  const rows = [
    '| target | transport | leases | grants/s | idle CPU, no lease | idle CPU, L leases | RSS before MiB | RSS at rest MiB | B/lease | streams | keep-alives/s | p50 ms | p99 ms | max ms | errors | expired | bench CPU | server CPU |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const p of points.filter(isLeasePoint)) {
    const f = p.lease;
    rows.push(`| ${p.target} | ${f.transport} | ${p.clients} | ${Math.round(f.grantPerS)} | ${cores(f.idleBaseCpuCores)} | ${cores(f.idleCpuCores)} | ` +
      `${kib(f.rssBaseKiB)} | ${kib(f.rssIdleEndKiB)} | ${Number.isFinite(f.rssPerLeaseBytes) ? Math.round(f.rssPerLeaseBytes) : '-'} | ` +
      `${f.streams}${f.window > 1 ? ` × ${f.window}` : ''} | ${Math.round(p.opsPerS)} | ${msOf(p.latencyUs.p50)} | ${msOf(p.latencyUs.p99)} | ${msOf(p.latencyUs.max)} | ` +
      `${p.errorCount} | ${f.expired} | ${pct(p.generatorCpuCores)} | ${pct(p.serverCpuCores)} |`);
  }
  return rows.join('\n');
}

/** tetcd/etcd per L, computed from the merged lease points. */
export function leaseRatiosTable(points: readonly PointResult[]): string {
  const leases = points.filter(isLeasePoint);
  const rows = ['| tetcd/etcd | keep-alives/s | p50 | p99 | server CPU | grants/s | idle CPU | memory/lease |', '|--:|--:|--:|--:|--:|--:|--:|--:|'];
  for (const t of leases.filter((p) => p.target === 'tetcd')) {
    const e: LeasePoint | undefined = leases.find((p) => p.target === 'etcd' && p.clients === t.clients);
    if (e === undefined) continue;
    const r = leaseRatios(t, e);
    rows.push(`| ${r.leases} leases | ${ratio(r.opsPerS)} | ${ratio(r.p50)} | ${ratio(r.p99)} | ${ratio(r.serverCpu)} | ${ratio(r.grantPerS)} | ${ratio(r.idleCpu)} | ${ratio(r.rssPerLease)} |`);
  }
  return rows.length === 2 ? '' : rows.join('\n');
}

function countsLines(title: string, points: readonly PointResult[], pick: (p: PointResult) => Record<string, number>, unit = 'clients'): string[] {
  const lines: string[] = [];
  for (const p of points) {
    for (const [label, n] of Object.entries(pick(p))) lines.push(`- ${p.target}, ${p.clients} ${unit}: ${n} × \`${label}\``);
  }
  return lines.length === 0 ? [] : [`${title}:`, '', ...lines, ''];
}

/** The RESULTS.md entry of a run. */
export function markdownSummary(run: RunRecord, jsonFile: string | undefined): string {
  const o = run.options;
  const m = run.machine;
  const fanout = run.merged.some((p) => p.fanout !== undefined);
  if (run.merged.some(isLeasePoint)) return leaseMarkdown(run, jsonFile);
  const parts = [
    `### ${run.scenario}: ${[...new Set(run.merged.map((p) => p.target))].join(' vs ')}, ${run.startedAt}`,
    '',
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; disk ${m.disk}. ` +
      'The load generator runs on the same cores as the server (bench CPU and server CPU: average cores busy ' +
      'during the measured window; 100% = one core).',
    '',
    '```sh',
    run.command,
    '```',
    '',
    `${o.durationS} s measured after ${o.warmupS} s warm-up per point, ${o.rounds} round(s) per target` +
      `${o.compare ? ' alternating tetcd/etcd' : ''}; ` +
      (fanout
        ? `${o.transport} watch streams on one prefix, one writer at ${o.ratePerS} puts/s (values ${o.valueBytes} B); ${o.threads} load threads. ` +
          'events/s: events received in the window; p50/p99/max: put acknowledged at the writer -> event received by a watcher ' +
          '(puts acknowledged in the window; an event that arrives before the ack counts as 0, see Outcomes); ' +
          '"from send": the same events timed from the put\'s sending; KiB/watcher: (server RSS with all watchers open - before) / watchers.'
        : `${o.http} HTTP client; keys ${o.keyCount}, values ${o.valueBytes} B` +
          `${run.scenario === 'mixed' ? `, read ratio ${o.readRatio}` : ''}; load threads = min(threads ${o.threads}, clients).`),
    '',
    fanout ? fanoutTable(run.merged) : pointsTable(run.merged),
    '',
  ];
  if (run.ratios.length > 0 && fanout) parts.push('Ratios (tetcd/etcd; events/s above 1, latency and memory below 1 favour tetcd):', '', fanoutRatiosTable(run.ratios), '');
  else if (run.ratios.length > 0) parts.push('Ratios (tetcd/etcd; ops/s above 1 and latency below 1 favour tetcd):', '', ratiosTable(run.ratios), '');
  parts.push(...countsLines('Errors', run.merged, (p) => p.errors), ...countsLines('Outcomes', run.merged, (p) => p.outcomes));
  for (const f of run.failures) parts.push(`Not measured: ${f}`, '');
  if (run.profileDir !== undefined) parts.push(`CPU profiles: \`${run.profileDir}\``, '');
  if (o.note !== '') parts.push(`Note: ${o.note}`, '');
  if (jsonFile !== undefined) parts.push(`Raw data: \`${jsonFile}\` (not committed).`, '');
  return parts.join('\n');
}

function machineLine(m: MachineInfo): string {
  return `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; disk ${m.disk}. ` +
    'The load generator runs on the same cores as the server (bench CPU and server CPU: average cores busy ' +
    'during the measured window; 100% = one core).';
}

/** The RESULTS.md entry of a lease run (see bench/README.md, "Lease keep-alives"). */
function leaseMarkdown(run: RunRecord, jsonFile: string | undefined): string {
  const o = run.options;
  const first = run.merged.find(isLeasePoint);
  assert.ok(first !== undefined, 'a lease run has lease points');
  const f = first.lease;
  const parts = [
    `### ${run.scenario}: ${[...new Set(run.merged.map((p) => p.target))].join(' vs ')}, ${run.startedAt}`,
    '', machineLine(run.machine), '', '```sh', run.command, '```', '',
    `${o.rounds} round(s) per target${o.compare ? ' alternating tetcd/etcd (a fresh server each)' : ''}. Per L: L leases granted ` +
      `with TTL ${f.ttlS} s (grants/s: L / time to grant them, ${o.params['grant-concurrency'] ?? '64'} in flight); ` +
      `idle CPU: server CPU time (utime+stime, all members) over ${f.idleS} s of no requests, with no lease (the baseline) and with ` +
      `the L leases granted and not kept alive; RSS before granting and after the idle window, B/lease = their difference / L. ` +
      `Then ${o.durationS} s measured after ${o.warmupS} s warm-up of keep-alives over ${f.streams} ${f.transport === 'http' ? 'POST /v3/lease/keepalive streams' : 'WebSocket streams'} ` +
      `(${f.window} in flight per stream), each renewing its own share of the L leases in turn: keep-alives/s answered with TTL > 0 ` +
      'for the right lease, latency send -> answer; expired: answers with TTL 0.',
    '', leaseTable(run.merged), '',
  ];
  const ratios = leaseRatiosTable(run.merged);
  if (ratios !== '') parts.push('Ratios (tetcd/etcd; keep-alives/s and grants/s above 1, latency, CPU and memory below 1 favour tetcd):', '', ratios, '');
  parts.push(...countsLines('Errors', run.merged, (p) => p.errors, 'leases'));
  for (const x of run.failures) parts.push(`Not measured: ${x}`, '');
  if (o.note !== '') parts.push(`Note: ${o.note}`, '');
  if (jsonFile !== undefined) parts.push(`Raw data: \`${jsonFile}\` (not committed).`, '');
  return parts.join('\n');
}

/** Writes the JSON record and appends the summary; returns the JSON path (relative to `benchDir`). */
export function writeRunFiles(benchDir: string, run: RunRecord): string {
  assert.ok(fs.existsSync(benchDir), `bench dir missing: ${benchDir}`);
  const outDir = path.join(benchDir, 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = run.startedAt.replace(/[:.]/g, '-');
  const jsonRel = path.join('bench', 'out', `${stamp}-${run.scenario}.json`);
  fs.writeFileSync(path.join(outDir, `${stamp}-${run.scenario}.json`), `${JSON.stringify(run, null, 2)}\n`);
  const resultsFile = path.join(benchDir, 'RESULTS.md');
  if (!fs.existsSync(resultsFile)) fs.writeFileSync(resultsFile, '# Bench results\n\nAppended by `npm run bench`; newest last. See README.md for how to read them.\n\n');
  fs.appendFileSync(resultsFile, `${markdownSummary(run, jsonRel)}\n`);
  return jsonRel;
}
