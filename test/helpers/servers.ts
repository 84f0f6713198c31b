// Starts real server processes for tests: etcd 3.4 (the reference) and tetcd (ours), each the
// way a user starts it, as a single-member cluster on free loopback ports with a temporary data
// directory. Tests that compare both (test/compat) and tests that kill and restart a member
// (test/integration) share this file, so it is defensive: the startup wait is bounded, a server
// that exits or never turns healthy is killed and its captured output is put in the thrown error,
// and every process is stopped in `t.after` (and, as a last resort, SIGKILLed when the test
// process itself exits) so that no run leaves servers or temp dirs behind.
//
// Ports are picked by binding port 0 and releasing it; another process can grab the port in
// between, so a start that fails with "address in use" is retried on fresh ports.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/helpers/servers.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** tetcd's server entry point, started with `node --import tsx`. */
export const TETCD_CLI = path.join(REPO_ROOT, 'src', 'cli', 'tetcd.ts');

const etcdStartupTimeoutMs = 15_000;
// tsx compiles the whole server on first start; a loaded CI machine needs the margin.
const tetcdStartupTimeoutMs = 30_000;
const stopTimeoutMs = 5_000;
const healthPollIntervalMs = 50;
const healthRequestTimeoutMs = 1_000;
/** Only the tail of a server's output is kept: etcd logs every startup step. */
const outputTailBytesMax = 64 * 1024;
const portInUseRetriesMax = 3;

/** What `t.after` needs: node:test's TestContext satisfies it. */
export interface AfterHook {
  after(fn: () => Promise<void> | void): void;
}

export interface StartOptions {
  /** The test that owns the server; the server is stopped in its `after` hook. */
  t?: AfterHook;
  /** Member name (`--name`); `compat` unless given. */
  name?: string;
  /** Reuse a data directory (a restart). Not removed on stop: the handle that made it owns it. */
  dataDir?: string;
  /** Fixed ports (a restart on the same address); picked freely when absent. */
  clientPort?: number;
  peerPort?: number;
  /** Extra command-line flags, appended after the ones this helper sets. */
  args?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  startupTimeoutMs?: number;
}

export interface ServerHandle {
  readonly kind: 'etcd' | 'tetcd';
  /** Client URL, `http://127.0.0.1:<port>` with no trailing slash. */
  readonly url: string;
  readonly peerUrl: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly pid: number;
  /** The last `outputTailBytesMax` bytes of stdout and stderr, interleaved. */
  output(): string;
  /** SIGTERM, a bounded wait, then SIGKILL; removes the data dir if this handle created it. */
  stop(): Promise<void>;
  /** Sends a signal (SIGKILL by default) and waits for the exit; keeps the data dir. */
  kill(signal?: NodeJS.Signals): Promise<void>;
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

/** Starts a real etcd as a single-member cluster. */
export function startEtcd(opts: StartOptions = {}): Promise<ServerHandle> {
  const binary = etcdBinary();
  if (binary === undefined) throw new Error(etcdMissingReason());
  return startServer('etcd', (flags) => ({ command: binary, args: flags }), opts);
}

/** Starts tetcd (`node --import tsx src/cli/tetcd.ts`) as a single-member cluster. */
export function startTetcd(opts: StartOptions = {}): Promise<ServerHandle> {
  const missing = tetcdMissingReason();
  if (missing !== undefined) throw new Error(missing);
  return startServer(
    'tetcd',
    (flags) => ({ command: process.execPath, args: ['--import', 'tsx', TETCD_CLI, ...flags] }),
    opts,
  );
}

type CommandOf = (flags: string[]) => { command: string; args: string[] };

async function startServer(kind: ServerHandle['kind'], commandOf: CommandOf, opts: StartOptions): Promise<ServerHandle> {
  const portsGiven = opts.clientPort !== undefined || opts.peerPort !== undefined;
  const retriesMax = portsGiven ? 1 : portInUseRetriesMax;
  let lastError: unknown;
  for (let attempt = 1; attempt <= retriesMax; attempt++) {
    const clientPort = opts.clientPort ?? (await freePort());
    const peerPort = opts.peerPort ?? (await freePort([clientPort]));
    try {
      return await startOnce(kind, commandOf, opts, clientPort, peerPort);
    } catch (error) {
      lastError = error;
      if (!(error instanceof StartError) || !error.portInUse) break;
    }
  }
  throw lastError;
}

class StartError extends Error {
  constructor(message: string, readonly portInUse: boolean) {
    super(message);
    this.name = 'StartError';
  }
}

/** Live processes, killed synchronously if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
/** Handles per data dir: the owner stops the others (restarts) before removing the dir. */
const handlesByDir = new Map<string, Set<ServerHandle>>();

process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

async function startOnce(
  kind: ServerHandle['kind'],
  commandOf: CommandOf,
  opts: StartOptions,
  clientPort: number,
  peerPort: number,
): Promise<ServerHandle> {
  const name = opts.name ?? 'compat';
  const ownsDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `${kind}-test-`));
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const flags = [
    '--name', name,
    '--data-dir', dataDir,
    '--listen-client-urls', url,
    '--advertise-client-urls', url,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `${name}=${peerUrl}`,
    ...(opts.args ?? []),
  ];
  const { command, args } = commandOf(flags);
  const child = spawn(command, args, { cwd: REPO_ROOT, env: serverEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const out = captureOutput(child);
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  void exited.then(() => live.delete(child));
  const handle = makeHandle({ kind, child, exited, out, url, peerUrl, clientPort, peerPort, dataDir, ownsDir });
  opts.t?.after(() => handle.stop());
  const timeoutMs = opts.startupTimeoutMs ?? (kind === 'etcd' ? etcdStartupTimeoutMs : tetcdStartupTimeoutMs);
  const failure = await waitHealthy(url, exited, timeoutMs);
  if (failure !== undefined) {
    await handle.stop();
    const output = out.text();
    const portInUse = /address already in use|EADDRINUSE/.test(output);
    throw new StartError(
      `${kind} did not start (${failure}): ${command} ${args.join(' ')}\n--- output (tail) ---\n${output}`,
      portInUse,
    );
  }
  return handle;
}

/** The parent's environment without ETCD_* variables, which both servers would read as flags. */
function serverEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ETCD_')) env[key] = value;
  }
  return { ...env, ...extra };
}

interface OutputTail {
  text(): string;
}

function captureOutput(child: ChildProcess): OutputTail {
  let tail = '';
  const append = (chunk: Buffer): void => {
    tail += chunk.toString('utf8');
    if (tail.length > outputTailBytesMax) tail = tail.slice(tail.length - outputTailBytesMax);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return { text: () => tail };
}

/** Polls `/health` until it answers `{"health":"true"}`; returns why not, or undefined when healthy. */
async function waitHealthy(url: string, exited: Promise<Exit>, timeoutMs: number): Promise<string | undefined> {
  assert.ok(timeoutMs > 0, 'startup timeout must be positive');
  let exit: Exit | undefined;
  void exited.then((e) => { exit = e; });
  const deadline = Date.now() + timeoutMs;
  let lastSeen = 'no answer';
  while (Date.now() < deadline) {
    if (exit !== undefined) {
      return exit.error !== undefined
        ? `spawn failed: ${exit.error.message}`
        : `exited with code ${exit.code} signal ${exit.signal}`;
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(healthRequestTimeoutMs) });
      const body = await res.text();
      lastSeen = `${res.status} ${body.trim()}`;
      if (res.status === 200 && isHealthy(body)) return undefined;
    } catch (error) {
      lastSeen = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, healthPollIntervalMs));
  }
  return `not healthy after ${timeoutMs} ms; last /health: ${lastSeen}`;
}

function isHealthy(body: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && (parsed as { health?: unknown }).health === 'true';
  } catch {
    return false;
  }
}

interface HandleParts {
  kind: ServerHandle['kind'];
  child: ChildProcess;
  exited: Promise<Exit>;
  out: OutputTail;
  url: string;
  peerUrl: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  ownsDir: boolean;
}

function makeHandle(p: HandleParts): ServerHandle {
  let stopping: Promise<void> | undefined;
  const waitExit = async (timeoutMs: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
    const done = await Promise.race([p.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return done;
  };
  const terminate = async (): Promise<void> => {
    if (!live.has(p.child)) return;
    p.child.kill('SIGTERM');
    if (await waitExit(stopTimeoutMs)) return;
    p.child.kill('SIGKILL');
    assert.ok(await waitExit(stopTimeoutMs), `${p.kind} pid ${p.child.pid} survived SIGKILL`);
  };
  const handle: ServerHandle = {
    kind: p.kind,
    url: p.url,
    peerUrl: p.peerUrl,
    clientPort: p.clientPort,
    peerPort: p.peerPort,
    dataDir: p.dataDir,
    pid: p.child.pid ?? -1,
    output: () => p.out.text(),
    stop: () => {
      stopping ??= (async () => {
        await terminate();
        const sharing = handlesByDir.get(p.dataDir);
        sharing?.delete(handle);
        if (!p.ownsDir) return;
        // A restart reuses this dir: stop those servers before the dir disappears under them.
        for (const other of sharing ?? []) await other.stop();
        handlesByDir.delete(p.dataDir);
        fs.rmSync(p.dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
    kill: async (signal = 'SIGKILL') => {
      if (!live.has(p.child)) return;
      p.child.kill(signal);
      if (signal === 'SIGSTOP' || signal === 'SIGCONT' || signal === 'SIGTSTP') return;
      await waitExit(stopTimeoutMs);
    },
  };
  const sharing = handlesByDir.get(p.dataDir) ?? new Set<ServerHandle>();
  sharing.add(handle);
  handlesByDir.set(p.dataDir, sharing);
  return handle;
}

/** A loopback port that was free a moment ago (bind port 0, read it, release it). */
export async function freePort(exclude: number[] = []): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        assert.ok(address !== null && typeof address === 'object');
        server.close(() => resolve(address.port));
      });
    });
    assert.ok(port > 0 && port < 65536);
    if (!exclude.includes(port)) return port;
  }
}
