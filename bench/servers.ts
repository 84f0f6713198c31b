// Starts the servers the bench measures, fresh for every round: real etcd (single member, or an
// N-member loopback cluster), tetcd (etcd's flags, `node --import tsx src/cli/tetcd.ts`) and the
// trivial Fastify server of the `ceiling` scenario. Each gets a temp data dir and free loopback
// ports, and is returned only once every member's `GET /health` answers `{"health":"true"}`.
//
// Every start is bounded (a server that exits or stays unhealthy is killed and its captured
// output tail is put in the error), every stop is bounded (SIGTERM, then SIGKILL), and a
// process-exit hook SIGKILLs whatever is still running, so the bench never leaves servers or
// temp dirs behind. Ports are found by binding port 0 and releasing it: racy in principle, fine
// for a bench on a quiet machine.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');
export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

const startupTimeoutMs = 60_000;
/** tetcd writes CPU profiles and drains on SIGTERM: give it time before SIGKILL. */
const stopTimeoutMs = 20_000;
const healthPollIntervalMs = 100;
const healthRequestTimeoutMs = 1_000;
/** Only the tail of a server's output is kept (etcd logs a lot at startup). */
const outputTailBytesMax = 32 * 1024;
export const clusterMembersMax = 7;

export type ServerKind = 'etcd' | 'tetcd' | 'fastify';

export interface RunningServer {
  readonly kind: ServerKind;
  /** Client URLs, one per member, `http://127.0.0.1:<port>`. */
  readonly endpoints: string[];
  /** OS process ids of the members (for CPU accounting). */
  readonly pids: number[];
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly members?: number;
  readonly env?: Readonly<Record<string, string>>;
}

/** Children still running; killed by the exit hook if the bench dies without stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      assert.ok(addr !== null && typeof addr === 'object');
      srv.close(() => resolve(addr.port));
    });
  });
}

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
}

async function planMembers(prefix: string, count: number, root: string): Promise<Member[]> {
  assert.ok(Number.isInteger(count) && count >= 1 && count <= clusterMembersMax, `members must be 1..${clusterMembersMax}: ${count}`);
  const members: Member[] = [];
  for (let i = 0; i < count; i++) {
    const name = count === 1 ? prefix : `${prefix}${i}`;
    members.push({
      name,
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: path.join(root, name),
    });
  }
  return members;
}

/** etcd's member flags (tetcd takes the same). */
function memberFlags(m: Member, all: readonly Member[], token: string): string[] {
  const flags = [
    '--name', m.name, '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
    '--initial-cluster', all.map((x) => `${x.name}=${x.peerUrl}`).join(','),
  ];
  if (all.length > 1) flags.push('--initial-cluster-state', 'new', '--initial-cluster-token', token);
  return flags;
}

/** Starts real etcd: one member, or `members` on loopback forming one cluster. */
export async function startEtcd(opts: StartOptions = {}): Promise<RunningServer> {
  assert.ok(fs.existsSync(ETCD_BIN), `etcd is not installed at ${ETCD_BIN} (set ETCD_BIN)`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-etcd-'));
  const members = await planMembers('bench', opts.members ?? 1, root);
  const token = `bench-${process.pid}-${Date.now()}`;
  return await startMembers('etcd', root, members.map((m) => ({
    clientUrl: m.clientUrl,
    command: ETCD_BIN,
    args: memberFlags(m, members, token),
    env: opts.env ?? {},
  })));
}

/** Starts tetcd the way a user does, with etcd's flags. `env` reaches the server (profiling). */
export async function startTetcd(opts: StartOptions = {}): Promise<RunningServer> {
  const cli = path.join(REPO_ROOT, 'src', 'cli', 'tetcd.ts');
  assert.ok(fs.existsSync(cli), `tetcd's CLI does not exist yet (${cli})`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-tetcd-'));
  const members = await planMembers('bench', opts.members ?? 1, root);
  const token = `bench-${process.pid}-${Date.now()}`;
  return await startMembers('tetcd', root, members.map((m) => ({
    clientUrl: m.clientUrl,
    command: process.execPath,
    args: ['--import', 'tsx', cli, ...memberFlags(m, members, token)],
    env: opts.env ?? {},
  })));
}

/** Starts the trivial Fastify server of the `ceiling` scenario. */
export async function startCeilingServer(): Promise<RunningServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ceiling-'));
  const port = await freePort();
  return await startMembers('fastify', root, [{
    clientUrl: `http://127.0.0.1:${port}`,
    command: process.execPath,
    args: ['--import', 'tsx', path.join(BENCH_DIR, 'ceiling-server.ts'), String(port)],
    env: {},
  }]);
}

interface ProcessSpec {
  readonly clientUrl: string;
  readonly command: string;
  readonly args: string[];
  readonly env: Readonly<Record<string, string>>;
}

interface Child {
  readonly proc: ChildProcess;
  output(): string;
  readonly exited: Promise<void>;
}

function spawnChild(spec: ProcessSpec): Child {
  const proc = spawn(spec.command, spec.args, { cwd: REPO_ROOT, env: { ...process.env, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-outputTailBytesMax);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      live.delete(proc);
      resolve();
    });
  });
  return { proc, output: () => tail, exited };
}

async function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), stopTimeoutMs);
  await c.exited;
  clearTimeout(timer);
}

async function startMembers(kind: ServerKind, root: string, specs: ProcessSpec[]): Promise<RunningServer> {
  const children = specs.map(spawnChild);
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(stopChild));
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + startupTimeoutMs;
    await Promise.all(specs.map((s, i) => waitHealthy(s.clientUrl, children[i]!, deadline)));
  } catch (err) {
    const outputs = children.map((c, i) => `--- ${kind} member ${i} output (tail) ---\n${c.output().slice(-4000)}`).join('\n');
    await stop();
    throw new Error(`${kind} did not start: ${err instanceof Error ? err.message : String(err)}\n${outputs}`);
  }
  return {
    kind,
    endpoints: specs.map((s) => s.clientUrl),
    pids: children.map((c) => c.proc.pid ?? -1).filter((p) => p > 0),
    stop,
  };
}

/** Polls `GET /health` until it answers `{"health":"true"}`, the process exits, or the deadline. */
async function waitHealthy(url: string, child: Child, deadlineMs: number): Promise<void> {
  let last = 'no answer yet';
  while (Date.now() < deadlineMs) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`process exited (${child.proc.exitCode ?? child.proc.signalCode}) before ${url} was healthy`);
    }
    try {
      const body = await getText(`${url}/health`);
      if ((JSON.parse(body) as { health?: unknown }).health === 'true') return;
      last = body.slice(0, 200);
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, healthPollIntervalMs));
  }
  throw new Error(`${url}/health not healthy within ${startupTimeoutMs} ms (last: ${last})`);
}

function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: healthRequestTimeoutMs, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('health request timed out')));
    req.on('error', reject);
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined if unavailable. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / clockTicksPerSecond : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size of a process in KiB (VmRSS in /proc/<pid>/status); undefined if unavailable. */
export function processRssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux the bench runs on (sysconf is not reachable from Node). */
const clockTicksPerSecond = 100;
