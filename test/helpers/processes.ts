// The one implementation of "run a real etcd or tetcd process" that the tests
// (test/helpers/servers.ts) and the bench (bench/servers.ts) both build on: where the binaries
// are, free loopback ports, etcd's member flags (tetcd takes the same), spawning a server with
// its output tail captured, polling `GET /health` until it answers `{"health":"true"}`, and a
// bounded stop (SIGTERM, a grace period, then SIGKILL).
//
// Policy stays with the callers: how long a start may take, how much output to keep, which
// environment the server sees, whether a failed start is retried, and who removes data dirs.
// Every child spawned here is in `live` until it exits, and a process-exit hook SIGKILLs whatever
// is still there, so neither a test run nor a bench run leaves servers behind when it dies.
//
// Ports are picked by binding port 0 and releasing it: another process can take the port in
// between, which callers handle (the tests retry on "address in use"; the bench accepts it).

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/helpers/processes.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** tetcd's server entry point, started with `node --import tsx`. */
export const TETCD_CLI = path.join(REPO_ROOT, 'src', 'cli', 'tetcd.ts');

/** One `/health` request; the poll loop around it has the caller's overall deadline. */
const healthRequestTimeoutMs = 1_000;
/** Only this much of a `/health` body is kept for the "last seen" of a failed start. */
const healthBodyShownCharsMax = 200;
/** Callers pick their output tail; this caps it so a chatty server cannot grow memory unboundedly. */
const outputTailBytesLimit = 1024 * 1024;
/** freePort redraws when it gets an excluded port; the OS rarely repeats one, so few draws suffice. */
const portDrawsMax = 100;

/** Children still running; SIGKILLed by the exit hook if the owner dies without stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** How a server process ended: an exit code or signal, or a spawn that failed outright. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

export interface ProcessSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** The server's whole environment (callers decide what of their own it inherits). */
  readonly env: NodeJS.ProcessEnv;
  /** How much of stdout and stderr (interleaved) to keep, the tail only. */
  readonly outputTailBytesMax: number;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  /** Settles once, when the process exits or fails to spawn; never rejects. */
  readonly exited: Promise<Exit>;
  /** True until the process has exited (or failed to spawn). */
  running(): boolean;
  /** The last `outputTailBytesMax` bytes of stdout and stderr, interleaved. */
  output(): string;
  /** Waits up to `timeoutMs` for the exit; true if the process is gone. */
  waitExit(timeoutMs: number): Promise<boolean>;
  /** SIGTERM, up to `graceMs` to exit, then SIGKILL and up to `graceMs` again; no-op if gone. */
  terminate(graceMs: number): Promise<void>;
}

/** Absolute path of the etcd binary (`ETCD_BIN`, then `/usr/bin/etcd`, then PATH), or undefined. */
export function etcdBinary(): string | undefined {
  const candidates = [process.env.ETCD_BIN, '/usr/bin/etcd'];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '') candidates.push(path.join(dir, 'etcd'));
  }
  return candidates.find((file) => file !== undefined && isExecutable(file));
}

/** Why etcd tests cannot run here, or undefined when they can. */
export function etcdMissingReason(): string | undefined {
  if (etcdBinary() !== undefined) return undefined;
  return 'etcd is not installed (no ETCD_BIN, /usr/bin/etcd or etcd on PATH); install etcd 3.4 (Debian: etcd-server)';
}

/** Why tetcd cannot be started yet, or undefined when its CLI exists. */
export function tetcdMissingReason(): string | undefined {
  if (fs.existsSync(TETCD_CLI)) return undefined;
  return `tetcd's CLI does not exist yet (${path.relative(REPO_ROOT, TETCD_CLI)})`;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** A loopback port that was free a moment ago (bind port 0, read it, release it), not in `exclude`. */
export async function freePort(exclude: readonly number[] = []): Promise<number> {
  for (let draw = 1; draw <= portDrawsMax; draw++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        assert.ok(address !== null && typeof address === 'object');
        server.close(() => resolve(address.port));
      });
    });
    assert.ok(port > 0 && port < 65536, `the OS gave port ${port}`);
    if (!exclude.includes(port)) return port;
  }
  assert.fail(`no free loopback port outside ${exclude.length} excluded ones after ${portDrawsMax} draws`);
}

/** Where one member of a cluster lives: its name, data dir and two loopback URLs. */
export interface MemberAddress {
  readonly name: string;
  readonly dataDir: string;
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly clientUrl: string;
  readonly peerUrl: string;
}

/**
 * etcd's flags for one member of `cluster` (tetcd takes the same). A single-member cluster gets
 * no token or state flag, as a user starting one etcd would; a larger one bootstraps as `new`.
 */
export function memberFlags(member: MemberAddress, cluster: readonly MemberAddress[], token: string): string[] {
  assert.ok(cluster.length >= 1 && cluster.includes(member), `${member.name} is not in its cluster`);
  assert.ok(cluster.length === 1 || token !== '', 'a multi-member cluster needs a token');
  const flags = [
    '--name', member.name,
    '--data-dir', member.dataDir,
    '--listen-client-urls', member.clientUrl,
    '--advertise-client-urls', member.clientUrl,
    '--listen-peer-urls', member.peerUrl,
    '--initial-advertise-peer-urls', member.peerUrl,
    '--initial-cluster', cluster.map((m) => `${m.name}=${m.peerUrl}`).join(','),
  ];
  if (cluster.length > 1) flags.push('--initial-cluster-state', 'new', '--initial-cluster-token', token);
  return flags;
}

/** The command line that starts tetcd the way a user does: `node --import tsx src/cli/tetcd.ts`. */
export function tetcdCommand(flags: readonly string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--import', 'tsx', TETCD_CLI, ...flags] };
}

/** Spawns a server in the repository root with its output captured; does not wait for anything. */
export function spawnServer(spec: ProcessSpec): ServerProcess {
  assert.ok(spec.outputTailBytesMax > 0 && spec.outputTailBytesMax <= outputTailBytesLimit, 'output tail out of range');
  const child = spawn(spec.command, [...spec.args], { cwd: REPO_ROOT, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let tail = '';
  const append = (chunk: Buffer): void => {
    tail += chunk.toString('utf8');
    if (tail.length > spec.outputTailBytesMax) tail = tail.slice(tail.length - spec.outputTailBytesMax);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<Exit>((resolve) => {
    // A failed spawn emits 'error' and no 'exit'; a started process emits 'exit' once.
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  void exited.then(() => live.delete(child));
  const waitExit = (timeoutMs: number): Promise<boolean> => waitSettled(exited, timeoutMs);
  return {
    child,
    exited,
    running: () => live.has(child),
    output: () => tail,
    waitExit,
    terminate: async (graceMs) => {
      if (!live.has(child)) return;
      child.kill('SIGTERM');
      if (await waitExit(graceMs)) return;
      child.kill('SIGKILL');
      assert.ok(await waitExit(graceMs), `${spec.command} pid ${child.pid} survived SIGKILL`);
    },
  };
}

/** True if `settles` settled within `timeoutMs`, false on the timeout (which is then cleared). */
async function waitSettled(settles: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  assert.ok(timeoutMs > 0, 'wait timeout must be positive');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
  const done = await Promise.race([settles.then(() => true as const), timedOut]);
  clearTimeout(timer);
  return done;
}

/**
 * Polls `<url>/health` every `pollIntervalMs` until it answers 200 `{"health":"true"}`. Returns
 * undefined when healthy, or why not: the process exited (or never spawned), or `timeoutMs` ran
 * out (with the last answer or error seen, for the caller's error message).
 */
export async function waitHealthy(url: string, proc: ServerProcess, timeoutMs: number, pollIntervalMs: number): Promise<string | undefined> {
  assert.ok(timeoutMs > 0, 'startup timeout must be positive');
  assert.ok(pollIntervalMs > 0, 'poll interval must be positive');
  let exit: Exit | undefined;
  void proc.exited.then((e) => { exit = e; });
  const deadline = Date.now() + timeoutMs;
  let lastSeen = 'no answer';
  while (Date.now() < deadline) {
    if (exit !== undefined) {
      return exit.error !== undefined
        ? `spawn failed: ${exit.error.message}`
        : `exited with code ${exit.code} signal ${exit.signal}`;
    }
    try {
      const { status, body } = await getHealth(`${url}/health`);
      lastSeen = `${status} ${body.trim().slice(0, healthBodyShownCharsMax)}`;
      if (status === 200 && isHealthy(body)) return undefined;
    } catch (error) {
      lastSeen = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
  return `not healthy after ${timeoutMs} ms; last /health: ${lastSeen}`;
}

/** One GET on a fresh connection (no agent): no keep-alive socket outlives the poll. */
function getHealth(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: healthRequestTimeoutMs, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('health request timed out')));
    req.on('error', reject);
  });
}

function isHealthy(body: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && (parsed as { health?: unknown }).health === 'true';
  } catch {
    return false;
  }
}
