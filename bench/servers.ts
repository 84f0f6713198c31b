// Starts the servers the bench measures, fresh for every round: real etcd (single member, or an
// N-member loopback cluster), tetcd (etcd's flags, `node --import tsx src/cli/tetcd.ts`) and the
// trivial Fastify server of the `ceiling` scenario. Each gets a temp data dir and free loopback
// ports, and is returned only once every member's `GET /health` answers `{"health":"true"}`.
//
// The process mechanics (ports, flags, spawn, health polling, bounded stop, the exit hook that
// SIGKILLs leftovers) are test/helpers/processes.ts, shared with the tests; this file adds the
// bench's policy: multi-member clusters, generous timeouts (tetcd writes CPU profiles on
// SIGTERM), and one error carrying every member's output tail when a start fails. Ports are
// found by binding port 0 and releasing it: racy in principle, fine for a bench on a quiet machine.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  memberFlags,
  spawnServer,
  tetcdCommand,
  tetcdMissingReason,
  waitHealthy,
  type MemberAddress,
  type ServerProcess,
} from '../test/helpers/processes.js';

export { REPO_ROOT, freePort } from '../test/helpers/processes.js';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

const startupTimeoutMs = 60_000;
/** tetcd writes CPU profiles and drains on SIGTERM: give it time before SIGKILL. */
const stopTimeoutMs = 20_000;
const healthPollIntervalMs = 100;
/** Only the tail of a server's output is kept (etcd logs a lot at startup). */
const outputTailBytesMax = 32 * 1024;
/** Of each member's kept tail, this much goes into a failed start's error. */
const failureOutputCharsMax = 4_000;
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

async function planMembers(prefix: string, count: number, root: string): Promise<MemberAddress[]> {
  assert.ok(Number.isInteger(count) && count >= 1 && count <= clusterMembersMax, `members must be 1..${clusterMembersMax}: ${count}`);
  const members: MemberAddress[] = [];
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

/** Starts real etcd: one member, or `members` on loopback forming one cluster. */
export async function startEtcd(opts: StartOptions = {}): Promise<RunningServer> {
  assert.ok(fs.existsSync(ETCD_BIN), `etcd is not installed at ${ETCD_BIN} (set ETCD_BIN)`);
  return await startCluster('etcd', opts, (flags) => ({ command: ETCD_BIN, args: flags }));
}

/** Starts tetcd the way a user does, with etcd's flags. `env` reaches the server (profiling). */
export async function startTetcd(opts: StartOptions = {}): Promise<RunningServer> {
  const missing = tetcdMissingReason();
  assert.ok(missing === undefined, missing);
  return await startCluster('tetcd', opts, tetcdCommand);
}

async function startCluster(
  kind: 'etcd' | 'tetcd',
  opts: StartOptions,
  commandOf: (flags: string[]) => { command: string; args: string[] },
): Promise<RunningServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${kind}-`));
  const members = await planMembers('bench', opts.members ?? 1, root);
  const token = `bench-${process.pid}-${Date.now()}`;
  return await startMembers(kind, root, members.map((m) => ({
    clientUrl: m.clientUrl,
    ...commandOf(memberFlags(m, members, token)),
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

interface MemberSpec {
  readonly clientUrl: string;
  readonly command: string;
  readonly args: string[];
  /** Added to the bench's own environment (which the server inherits whole). */
  readonly env: Readonly<Record<string, string>>;
}

async function startMembers(kind: ServerKind, root: string, specs: MemberSpec[]): Promise<RunningServer> {
  assert.ok(specs.length >= 1 && specs.length <= clusterMembersMax, `members must be 1..${clusterMembersMax}`);
  const procs: ServerProcess[] = specs.map((s) => spawnServer({
    command: s.command,
    args: s.args,
    env: { ...process.env, ...s.env },
    outputTailBytesMax,
  }));
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.terminate(stopTimeoutMs)));
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    // Fails fast: the first member that exits or times out fails the start, as with one member.
    await Promise.all(specs.map(async (s, i) => {
      const failure = await waitHealthy(s.clientUrl, procs[i]!, startupTimeoutMs, healthPollIntervalMs);
      if (failure !== undefined) throw new Error(`${s.clientUrl}: ${failure}`);
    }));
  } catch (err) {
    const outputs = procs
      .map((p, i) => `--- ${kind} member ${i} output (tail) ---\n${p.output().slice(-failureOutputCharsMax)}`)
      .join('\n');
    await stop();
    throw new Error(`${kind} did not start: ${err instanceof Error ? err.message : String(err)}\n${outputs}`);
  }
  return {
    kind,
    endpoints: specs.map((s) => s.clientUrl),
    pids: procs.map((p) => p.child.pid ?? -1).filter((pid) => pid > 0),
    stop,
  };
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
