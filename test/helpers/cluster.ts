// Starts real multi-member tetcd clusters for tests: N `tetcd` processes on free loopback ports,
// each with its own temporary data dir, bootstrapped together with --initial-cluster. Members
// start in parallel (none turns healthy before a quorum is up) and a member can be killed
// (SIGKILL) and restarted on the same ports over the same data dir. Everything is stopped and
// removed in `t.after`, and SIGKILLed if the test process exits first.
//
// Members run on 127.0.0.1 unless `hosts` places them elsewhere: a host address to listen on and
// a command prefix to start under (test/helpers/netns.ts runs each member in its own network
// namespace with `ip netns exec`, which execs, so the child's pid is still the member's pid).
//
// Also the small JSON clients the cluster tests use (put, range, status), each bounded by
// REQUEST_TIMEOUT_MS so a dead member fails a request instead of hanging a test.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, TETCD_CLI, freePort } from './servers.js';

const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_INTERVAL_MS = 50;
export const REQUEST_TIMEOUT_MS = 3_000;
const OUTPUT_TAIL_BYTES_MAX = 256 * 1024;

export interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  /** The address the member listens on and advertises; 127.0.0.1 when absent. */
  host?: string;
  /** argv run before `node ...` (e.g. ['ip', 'netns', 'exec', ns]); it must exec node. */
  commandPrefix?: string[];
}

/** Where startCluster puts one member (see ClusterOptions.hosts). */
export interface MemberHost {
  host: string;
  commandPrefix?: string[];
  /** Fixed ports (each host has its own port space); picked free on 127.0.0.1 when absent. */
  clientPort?: number;
  peerPort?: number;
}

export interface ClusterMember extends MemberSpec {
  readonly url: string;
  readonly peerUrl: string;
  /** Output of every run of this member (stdout and stderr), the tail only. */
  output(): string;
  running(): boolean;
  /** Starts the process (again) with the cluster's flags; does not wait for health. */
  start(): void;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Sends a signal without waiting for anything (e.g. SIGUSR2, the failpoint toggle); false if not running. */
  signal(sig: NodeJS.Signals): boolean;
  /** The running process's pid, undefined when not running. */
  pid(): number | undefined;
}

export interface Cluster {
  members: ClusterMember[];
  token: string;
  /** The --initial-cluster value every member was started with. */
  initialCluster: string;
  /** Waits until every running member answers /health true. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  t: { after(fn: () => Promise<void> | void): void };
  size?: number;
  token?: string;
  /** Extra tetcd flags for every member (e.g. --snapshot-count 100). */
  args?: string[];
  /** Member i+1 runs on hosts[i] (length must equal size); all on 127.0.0.1 when absent. */
  hosts?: MemberHost[];
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const size = opts.size ?? 3;
  const token = opts.token ?? `test-${process.pid}`;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tetcd-cluster-'));
  const used: number[] = [];
  const specs: MemberSpec[] = [];
  assert.ok(opts.hosts === undefined || opts.hosts.length === size, 'one host per member');
  for (let i = 1; i <= size; i++) {
    const place = opts.hosts?.[i - 1];
    const clientPort = place?.clientPort ?? await freePort(used);
    used.push(clientPort);
    const peerPort = place?.peerPort ?? await freePort(used);
    used.push(peerPort);
    specs.push({
      name: `m${i}`, clientPort, peerPort, dataDir: path.join(root, `m${i}.etcd`),
      ...(place === undefined ? {} : { host: place.host }),
      ...(place?.commandPrefix === undefined ? {} : { commandPrefix: place.commandPrefix }),
    });
  }
  const initialCluster = specs.map((s) => `${s.name}=http://${s.host ?? '127.0.0.1'}:${s.peerPort}`).join(',');
  const members = specs.map((s) => makeMember(s, [
    '--initial-cluster', initialCluster, '--initial-cluster-token', token, ...(opts.args ?? []),
  ]));
  const cluster: Cluster = {
    members,
    token,
    initialCluster,
    waitHealthy: (timeoutMs = STARTUP_TIMEOUT_MS) => waitAllHealthy(members, timeoutMs),
    stop: async () => {
      await Promise.all(members.map((m) => m.kill('SIGTERM')));
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  opts.t.after(() => cluster.stop());
  for (const m of members) m.start();
  await cluster.waitHealthy();
  return cluster;
}

/** A member process handle; `flags` are added after the member's own address flags. */
export function makeMember(spec: MemberSpec, flags: string[]): ClusterMember {
  const host = spec.host ?? '127.0.0.1';
  const url = `http://${host}:${spec.clientPort}`;
  const peerUrl = `http://${host}:${spec.peerPort}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let tail = '';
  const append = (chunk: Buffer): void => {
    tail += chunk.toString('utf8');
    if (tail.length > OUTPUT_TAIL_BYTES_MAX) tail = tail.slice(tail.length - OUTPUT_TAIL_BYTES_MAX);
  };
  const member: ClusterMember = {
    ...spec,
    url,
    peerUrl,
    output: () => tail,
    running: () => child !== undefined && live.has(child),
    start: () => {
      assert.ok(!member.running(), `${spec.name} is already running`);
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_')) env[k] = v;
      const args = [
        '--import', 'tsx', TETCD_CLI, '--name', spec.name, '--data-dir', spec.dataDir,
        '--listen-client-urls', url, '--advertise-client-urls', url,
        '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, ...flags,
      ];
      const [command, ...argv] = [...(spec.commandPrefix ?? []), process.execPath, ...args];
      assert.ok(command !== undefined);
      const c = spawn(command, argv, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      live.add(c);
      c.stdout?.on('data', append);
      c.stderr?.on('data', append);
      exited = new Promise((resolve) => {
        c.once('exit', () => {
          live.delete(c);
          resolve();
        });
        // A prefix command that cannot be spawned emits 'error' and never 'exit'.
        c.once('error', (err) => {
          append(Buffer.from(`spawn failed: ${err.message}\n`));
          live.delete(c);
          resolve();
        });
      });
    },
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      const c = child;
      if (c === undefined || !live.has(c)) return;
      c.kill(signal);
      const timer = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
    signal: (sig: NodeJS.Signals) => {
      const c = child;
      return c !== undefined && live.has(c) && c.kill(sig);
    },
    pid: () => (child !== undefined && live.has(child) ? child.pid : undefined),
  };
  return member;
}

async function waitAllHealthy(members: ClusterMember[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const m of members) {
    if (!m.running()) continue;
    for (;;) {
      if (!m.running()) throw new Error(`${m.name} exited while starting:\n${m.output()}`);
      if (await isHealthy(m.url)) break;
      if (Date.now() > deadline) throw new Error(`${m.name} not healthy after ${timeoutMs} ms:\n${m.output()}`);
      await sleep(POLL_INTERVAL_MS);
    }
  }
}

async function isHealthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = (await res.json()) as { health?: string };
    return res.status === 200 && body.health === 'true';
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- JSON clients ----

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
export const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/** POSTs JSON; resolves with status and parsed body, rejects on network errors and timeouts. */
export async function post(url: string, route: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${route}`, {
    method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export interface Kv {
  key: string;
  value: string;
  modRevision: number;
  createRevision: number;
  version: number;
}

/** Every key with its value and revisions, as `member` has it. */
export async function rangeAll(url: string, serializable: boolean): Promise<{ revision: number; kvs: Kv[] }> {
  const r = await post(url, '/v3/kv/range', { key: b64('\0'), range_end: b64('\0'), serializable });
  assert.equal(r.status, 200, `range on ${url}: ${JSON.stringify(r.body)}`);
  const header = r.body.header as { revision: string };
  const kvs = ((r.body.kvs ?? []) as Array<Record<string, string>>).map((kv) => ({
    key: unb64(kv.key ?? ''), value: unb64(kv.value ?? ''), modRevision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision), version: Number(kv.version),
  }));
  return { revision: Number(header.revision), kvs };
}

export interface MemberStatus {
  memberId: string;
  leader: string;
  raftIndex: number;
  raftAppliedIndex: number;
  raftTerm: number;
}

export async function status(url: string): Promise<MemberStatus> {
  const r = await post(url, '/v3/maintenance/status', {});
  assert.equal(r.status, 200, `status on ${url}: ${JSON.stringify(r.body)}`);
  const h = r.body.header as { member_id: string };
  return {
    memberId: h.member_id, leader: String(r.body.leader ?? '0'), raftIndex: Number(r.body.raftIndex ?? 0),
    raftAppliedIndex: Number(r.body.raftAppliedIndex ?? 0), raftTerm: Number(r.body.raftTerm ?? 0),
  };
}

/** Polls `fn` until it returns a value (not undefined) or the deadline passes (then throws). */
export async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

// ---- helpers shared by the fault and membership tests ----

/** etcd's answers for a linearizable request on a member without a quorum. */
export const QUORUM_REFUSALS: ReadonlySet<string> = new Set(['etcdserver: no leader', 'etcdserver: request timed out']);
export const GRPC_UNAVAILABLE = 14;

/** A put that must succeed; answers the revision it created. */
export async function putKey(url: string, key: string, value: string): Promise<number> {
  const r = await post(url, '/v3/kv/put', { key: b64(key), value: b64(value) });
  if (r.status !== 200) throw new Error(`put ${key} on ${url}: ${r.status} ${JSON.stringify(r.body)}`);
  return Number((r.body.header as { revision: string }).revision);
}

/** A single-key range: the answer's status, the value (undefined when absent) and the error. */
export async function getKey(url: string, key: string, serializable: boolean): Promise<{ status: number; value?: string; error?: string; code?: number }> {
  const r = await post(url, '/v3/kv/range', { key: b64(key), serializable });
  if (r.status !== 200) return { status: r.status, error: String(r.body.error), code: Number(r.body.code) };
  const kv = ((r.body.kvs ?? []) as Array<{ value?: string }>)[0];
  return kv === undefined ? { status: 200 } : { status: 200, value: unb64(kv.value ?? '') };
}

/**
 * The member every member of `among` names as leader (other than `notId`), found among
 * `candidates` (default `among`), with its id; waits up to `timeoutMs` for them to agree.
 */
export async function agreedLeader(among: ClusterMember[], timeoutMs: number, notId?: string, candidates: ClusterMember[] = among): Promise<{ m: ClusterMember; id: string }> {
  return waitFor('one leader agreed on', timeoutMs, async () => {
    const seen = await Promise.all(among.map((m) => status(m.url)));
    const lead = seen[0]!.leader;
    if (lead === '0' || lead === notId || !seen.every((s) => s.leader === lead)) return undefined;
    for (const m of candidates) if ((await status(m.url)).memberId === lead) return { m, id: lead };
    return undefined;
  });
}

export interface MemberJson { ID: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }

/** /v3/cluster/member/list: the header's cluster id and the members. */
export async function memberList(url: string): Promise<{ clusterId: string; members: MemberJson[] }> {
  const r = await post(url, '/v3/cluster/member/list', {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { clusterId: (r.body.header as { cluster_id: string }).cluster_id, members: (r.body.members ?? []) as MemberJson[] };
}

/**
 * An isolated old leader never answers a linearizable read of `<prefix>/k` (rewritten by the
 * majority, 'before' on its side) and within `timeoutMs` refuses it with etcd's error; it refuses
 * writes; a serializable read is served, stale (the cut holds); it does not know `freshId` as
 * leader. Returns the refusal's message.
 */
export async function assertIsolatedRefuses(old: ClusterMember, prefix: string, freshId: string, timeoutMs: number): Promise<string> {
  // (waitFor retries on errors, so answers it must never see are collected, then asserted.)
  const served: unknown[] = [];
  const refusal = await waitFor('the old leader refusing a linearizable read', timeoutMs, async () => {
    const r = await getKey(old.url, `${prefix}/k`, false);
    if (r.status === 200) served.push(r);
    return r.status === 200 ? undefined : r;
  });
  assert.deepEqual(served, [], 'the isolated old leader served linearizable reads');
  assert.equal(refusal.status, 503, JSON.stringify(refusal));
  assert.ok(QUORUM_REFUSALS.has(refusal.error ?? ''), `unexpected refusal ${JSON.stringify(refusal)}`);
  assert.equal(refusal.code, GRPC_UNAVAILABLE);
  assert.deepEqual(await getKey(old.url, `${prefix}/k`, true), { status: 200, value: 'before' }, 'the cut holds');
  const refusedPut = await post(old.url, '/v3/kv/put', { key: b64(`${prefix}/refused`), value: b64('x') });
  assert.equal(refusedPut.status, 503, JSON.stringify(refusedPut.body));
  assert.ok(QUORUM_REFUSALS.has(String(refusedPut.body.error)), JSON.stringify(refusedPut.body));
  assert.notEqual((await status(old.url)).leader, freshId, 'the isolated member cannot know the new leader');
  return refusal.error ?? '';
}
