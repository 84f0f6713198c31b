// Starts real server processes for tests: etcd 3.4 (the reference) and tetcd (ours), each the
// way a user starts it, as a single-member cluster on free loopback ports with a temporary data
// directory. Tests that compare both (test/compat) and tests that kill and restart a member
// (test/integration) share this file, so it is defensive: the startup wait is bounded, a server
// that exits or never turns healthy is killed and its captured output is put in the thrown error,
// and every process is stopped in `t.after` (and, as a last resort, SIGKILLed when the test
// process itself exits) so that no run leaves servers or temp dirs behind.
//
// The process mechanics (ports, flags, spawn, health, bounded stop) are test/helpers/processes.ts,
// shared with the bench; this file adds the test policy on top: handles owned by a test, restarts
// over a kept data dir, and a retry on fresh ports when a start fails with "address in use"
// (another process can grab a port between freePort and the server's bind).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  etcdBinary,
  etcdMissingReason,
  freePort,
  memberFlags,
  spawnServer,
  tetcdCommand,
  tetcdMissingReason,
  waitHealthy,
  type ServerProcess,
} from './processes.js';

export { REPO_ROOT, TETCD_CLI, etcdBinary, etcdMissingReason, freePort, tetcdMissingReason } from './processes.js';

const etcdStartupTimeoutMs = 15_000;
// tsx compiles the whole server on first start; a loaded CI machine needs the margin.
const tetcdStartupTimeoutMs = 30_000;
const stopTimeoutMs = 5_000;
const healthPollIntervalMs = 50;
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
  return startServer('tetcd', tetcdCommand, opts);
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

/** Handles per data dir: the owner stops the others (restarts) before removing the dir. */
const handlesByDir = new Map<string, Set<ServerHandle>>();

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
  const member = { name, dataDir, clientUrl: `http://127.0.0.1:${clientPort}`, peerUrl: `http://127.0.0.1:${peerPort}` };
  const flags = [...memberFlags(member, [member], ''), ...(opts.args ?? [])];
  const { command, args } = commandOf(flags);
  const proc = spawnServer({ command, args, env: serverEnv(opts.env), outputTailBytesMax });
  const handle = makeHandle({ kind, proc, url: member.clientUrl, peerUrl: member.peerUrl, clientPort, peerPort, dataDir, ownsDir });
  opts.t?.after(() => handle.stop());
  const timeoutMs = opts.startupTimeoutMs ?? (kind === 'etcd' ? etcdStartupTimeoutMs : tetcdStartupTimeoutMs);
  const failure = await waitHealthy(member.clientUrl, proc, timeoutMs, healthPollIntervalMs);
  if (failure !== undefined) {
    await handle.stop();
    const output = proc.output();
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

interface HandleParts {
  kind: ServerHandle['kind'];
  proc: ServerProcess;
  url: string;
  peerUrl: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  ownsDir: boolean;
}

function makeHandle(p: HandleParts): ServerHandle {
  let stopping: Promise<void> | undefined;
  const handle: ServerHandle = {
    kind: p.kind,
    url: p.url,
    peerUrl: p.peerUrl,
    clientPort: p.clientPort,
    peerPort: p.peerPort,
    dataDir: p.dataDir,
    pid: p.proc.child.pid ?? -1,
    output: () => p.proc.output(),
    stop: () => {
      stopping ??= (async () => {
        await p.proc.terminate(stopTimeoutMs);
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
      if (!p.proc.running()) return;
      p.proc.child.kill(signal);
      if (signal === 'SIGSTOP' || signal === 'SIGCONT' || signal === 'SIGTSTP') return;
      await p.proc.waitExit(stopTimeoutMs);
    },
  };
  const sharing = handlesByDir.get(p.dataDir) ?? new Set<ServerHandle>();
  sharing.add(handle);
  handlesByDir.set(p.dataDir, sharing);
  return handle;
}
