// `npm run cluster`: a 3-member tetcd cluster on loopback, in the foreground, the way etcd's
// Procfile starts one (client ports 2379/22379/32379, peer ports 2380/22380/32380, members
// infra1..infra3, token etcd-cluster-1). Each member is its own `tetcd` process; their JSON log
// lines are printed one per line, tagged with the member's name and made readable:
//
//   infra2 | 12:00:01.234 INFO  raft-node   raft: leader changed  lead=8211f1d0f64f3269 term=2
//
// Ctrl-C (or SIGTERM) stops every member cleanly (SIGTERM, the same drain as a lone member) and
// exits once all have; a member that does not stop within STOP_TIMEOUT_MS is killed. A second
// Ctrl-C kills at once. Data lives in <data-root>/infraN.etcd (default ./tetcd-cluster), so a
// restart rejoins the same cluster; pass --fresh to start from empty data dirs.
//
//   npm run cluster [-- --data-root DIR] [--fresh] [--log-level debug] [--raw] [-- extra tetcd flags]

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TETCD_CLI = path.join(REPO_ROOT, 'src', 'cli', 'tetcd.ts');
/** How long members get to drain and close before they are killed. */
const STOP_TIMEOUT_MS = 10_000;
const TOKEN = 'etcd-cluster-1';
const MEMBERS = [
  { name: 'infra1', client: 2379, peer: 2380 },
  { name: 'infra2', client: 22379, peer: 22380 },
  { name: 'infra3', client: 32379, peer: 32380 },
] as const;
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
/** Fields of a pino line that the readable form prints in its own columns (or drops). */
const SHOWN_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'actor', 'member']);

interface Options {
  dataRoot: string;
  fresh: boolean;
  logLevel: string;
  raw: boolean;
  extra: string[];
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { dataRoot: path.resolve('tetcd-cluster'), fresh: false, logLevel: 'info', raw: false, extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') opts.extra.push(...argv.slice(i + 1));
    else if (a === '--fresh') opts.fresh = true;
    else if (a === '--raw') opts.raw = true;
    else if (a === '--data-root' && argv[i + 1] !== undefined) opts.dataRoot = path.resolve(argv[++i]!);
    else if (a === '--log-level' && argv[i + 1] !== undefined) opts.logLevel = argv[++i]!;
    else {
      process.stderr.write(`cluster: unknown argument ${a}\nusage: npm run cluster [-- --data-root DIR] [--fresh] [--log-level L] [--raw] [-- tetcd flags]\n`);
      process.exit(2);
    }
    if (a === '--') break;
  }
  return opts;
}

/** One pino JSON line as `member | time LEVEL actor msg k=v ...`; other lines pass through. */
export function readableLine(member: string, line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${member} | ${line}`;
  }
  if (typeof rec !== 'object' || rec === null) return `${member} | ${line}`;
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : '';
  const level = LEVELS[Number(rec.level)] ?? String(rec.level);
  const actor = String(rec.actor ?? '').padEnd(11);
  const extra = Object.entries(rec)
    .filter(([k]) => !SHOWN_FIELDS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${member} | ${time} ${level} ${actor} ${String(rec.msg ?? '')}${extra ? `  ${extra}` : ''}`;
}

function memberFlags(m: (typeof MEMBERS)[number], opts: Options): string[] {
  const cluster = MEMBERS.map((x) => `${x.name}=http://127.0.0.1:${x.peer}`).join(',');
  return [
    '--name', m.name,
    '--data-dir', path.join(opts.dataRoot, `${m.name}.etcd`),
    '--listen-client-urls', `http://127.0.0.1:${m.client}`,
    '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
    '--listen-peer-urls', `http://127.0.0.1:${m.peer}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
    '--initial-cluster-token', TOKEN,
    '--initial-cluster', cluster,
    '--initial-cluster-state', 'new',
    '--log-level', opts.logLevel,
    ...opts.extra,
  ];
}

function startMember(m: (typeof MEMBERS)[number], opts: Options): ChildProcess {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_')) env[k] = v;
  // Detached: a terminal's Ctrl-C reaches this script only, which then stops each member once
  // (a member that got SIGINT from the terminal AND SIGTERM from here would exit without draining).
  const child = spawn(process.execPath, ['--import', 'tsx', TETCD_CLI, ...memberFlags(m, opts)], {
    cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    readline.createInterface({ input: stream }).on('line', (line) => {
      process.stdout.write(`${opts.raw ? `${m.name} | ${line}` : readableLine(m.name, line)}\n`);
    });
  }
  child.on('exit', (code, signal) => {
    process.stdout.write(`${m.name} | exited (code ${code}, signal ${signal})\n`);
  });
  return child;
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.fresh) fs.rmSync(opts.dataRoot, { recursive: true, force: true });
  fs.mkdirSync(opts.dataRoot, { recursive: true });
  process.stdout.write(`cluster: 3 members, data in ${opts.dataRoot}; clients: ${MEMBERS.map((m) => `http://127.0.0.1:${m.client}`).join(' ')}\n`);
  const children = MEMBERS.map((m) => startMember(m, opts));
  const exits = children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve();
    else c.once('exit', () => resolve());
  }));
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      process.stdout.write(`cluster: ${signal} again, killing every member\n`);
      for (const c of children) c.kill('SIGKILL');
      return;
    }
    stopping = true;
    process.stdout.write(`cluster: ${signal}, stopping every member\n`);
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    void Promise.all(exits).then(() => {
      clearTimeout(killer);
      process.stdout.write('cluster: stopped\n');
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  // Detached members outlive this script unless it takes them down on any exit it sees.
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  // A member that dies on its own leaves the others running (that is what a cluster is for).
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
