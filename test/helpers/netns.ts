// A virtual LAN of separate "hosts" for cluster tests, made of Linux network namespaces: each host
// is a namespace with its own network stack (so every member can listen on 2379/2380 of its own
// address) and one veth into a bridge that lives in a namespace of its own, so that member-to-
// member traffic really crosses veths and a bridge and none of it touches the machine's network.
//
//          [host 1: eth0 10.a.b.1]   [host 2: eth0 10.a.b.2]   [host 3: eth0 10.a.b.3]
//                 |                        |                        |
//          lan1 --+------------- br0 (namespace <prefix>-lan) -----+-- lan3    <- the LAN
//
//          each host also has mgmt0 <-> tm...hK in the root namespace     <- out of band
//
// The test process (root namespace) reaches each host over a separate point-to-point veth (a
// "management link": the root end carries the test's address 10.a.b.254/32 and a /32 route to
// the host's address), not through the bridge. So cutting a host off the LAN (link down on its
// bridge port: the wire is pulled, the host only sees its carrier go) isolates it from the other
// members while the test can still ask it questions, like a client sitting on its side of a
// partition. Latency is tc netem on the bridge ports (one-way, per direction), when the kernel
// has sch_netem.
//
// Names carry the test process's pid and a counter, so concurrent test files never collide;
// namespaces and root-namespace links left by a process that died are reaped by the next LAN.
// The /24 is random and checked against the root namespace's addresses and routes. Teardown
// deletes every namespace and link made; it runs in `t.after`, on process exit, and on
// SIGINT/SIGTERM. Needs root and iproute2 (`ip`, `tc`); no iptables.

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster, type ClusterMember, type MemberHost } from './cluster.js';
import type { AfterHook } from './servers.js';

/** Each `ip`/`tc` invocation is bounded; they normally take a few ms. */
const COMMAND_TIMEOUT_MS = 10_000;
/** Hosts get .1 .. .HOSTS_MAX of the /24; the test's own address is .TEST_OCTET. */
const HOSTS_MAX = 64;
const TEST_OCTET = 254;
const IFNAME_CHARS_MAX = 15;
const SUBNET_ATTEMPTS_MAX = 8;
const NETNS_PREFIX = 'tetcd';
const NETNS_DIR = '/run/netns';
/** Every host has its own port space, so every member uses etcd's well-known ports. */
export const NETNS_CLIENT_PORT = 2379;
export const NETNS_PEER_PORT = 2380;

// ---- commands ----

function findBinary(name: string): string | undefined {
  const dirs = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', ...(process.env.PATH ?? '').split(path.delimiter)];
  return dirs.map((d) => path.join(d, name)).find((f) => {
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const IP = findBinary('ip');
const TC = findBinary('tc');

/** Runs a command synchronously; throws with its stderr on failure. */
function run(bin: string | undefined, args: string[]): string {
  assert.ok(bin !== undefined, 'iproute2 (ip, tc) is not installed');
  try {
    return execFileSync(bin, args, { timeout: COMMAND_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${path.basename(bin)} ${args.join(' ')}: ${stderr || String(err)}`);
  }
}

/** `run`, or `fallback` when the command fails. */
function runOr(bin: string | undefined, args: string[], fallback: string): string {
  try {
    return run(bin, args);
  } catch {
    return fallback;
  }
}

/** The same, for cleanup: failures (already gone) are ignored. */
function runQuietly(bin: string | undefined, args: string[]): void {
  try {
    run(bin, args);
  } catch {
    // Already deleted, or never made: nothing to undo.
  }
}

// ---- availability ----

let probeCount = 0;

/** Why network-namespace tests cannot run here, or undefined when they can. */
export function netnsMissingReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (uid 0); run the tests as root';
  if (IP === undefined) return 'iproute2 is not installed (no `ip`; Debian: apt-get install iproute2)';
  const probe = `${NETNS_PREFIX}-${process.pid}-probe${probeCount++}`;
  try {
    run(IP, ['netns', 'add', probe]);
  } catch (err) {
    return `\`ip netns add\` does not work here: ${(err as Error).message}`;
  } finally {
    runQuietly(IP, ['netns', 'del', probe]);
  }
  return undefined;
}

export function netnsAvailable(): boolean {
  return netnsMissingReason() === undefined;
}

/**
 * For a test that needs namespaces: true when it can run. Otherwise it throws under CI=true (a CI
 * that cannot run it must not pass silently) and skips the test, with the reason, elsewhere.
 */
export function requireNetns(t: { skip(message?: string): void }): boolean {
  const reason = netnsMissingReason();
  if (reason === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`network-namespace test cannot run in CI: ${reason}`);
  t.skip(reason);
  return false;
}

// ---- the LAN ----

export interface LanHost {
  /** 1-based. */
  readonly index: number;
  /** The network namespace's name (`ip netns list`). */
  readonly netns: string;
  /** The host's LAN address (no prefix length). */
  readonly address: string;
  /** argv that runs a command inside this host: `ip netns exec <netns>` (it execs the command). */
  readonly commandPrefix: string[];
}

export interface VirtualLan {
  /** `10.a.b.0/24`. */
  readonly subnet: string;
  readonly hosts: readonly LanHost[];
  /** The test's own address, reachable from every host over its management link only. */
  readonly testAddress: string;
  /** Starts `command` inside `host`; the child's pid is the command's (ip netns exec execs). */
  spawnIn(host: LanHost, command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Runs `command` inside `host` synchronously and returns its stdout. */
  execIn(host: LanHost, command: string, args: string[]): string;
  /** Pulls the host's LAN cable: it reaches no other host (the test still reaches it). */
  cut(host: LanHost): void;
  heal(host: LanHost): void;
  isCut(host: LanHost): boolean;
  /** Adds `delayMs` of one-way latency on every LAN port; returns why not if the kernel lacks netem. */
  setLatency(delayMs: number): string | undefined;
  /** The host whose namespace process `pid` runs in, or undefined. */
  hostOfPid(pid: number): LanHost | undefined;
  /** Deletes every namespace and link this LAN made. Idempotent and synchronous. */
  teardown(): void;
}

export interface LanOptions {
  hosts: number;
  /** Teardown runs in `t.after` (also on process exit and SIGINT/SIGTERM regardless). */
  t?: AfterHook;
}

let lanCount = 0;
const liveLans = new Set<VirtualLan>();

/** What a LAN made (or is about to make), recorded before each step so teardown finds it all. */
interface Made {
  namespaces: string[];
  rootLinks: string[];
}

/** Creates the LAN: N host namespaces on one bridge, each with a management link to the root. */
export function createLan(opts: LanOptions): VirtualLan {
  assert.ok(opts.hosts >= 1 && opts.hosts <= HOSTS_MAX, `1..${HOSTS_MAX} hosts`);
  reapStale();
  installExitHandlers();
  const id = lanCount++;
  let lastError: unknown;
  for (let attempt = 0; attempt < SUBNET_ATTEMPTS_MAX; attempt++) {
    const made: Made = { namespaces: [], rootLinks: [] };
    const lan = makeLan(id, pickSubnet(), opts.hosts, made);
    liveLans.add(lan);
    try {
      buildLan(id, lan, made);
      opts.t?.after(() => lan.teardown());
      return lan;
    } catch (err) {
      lastError = err;
      lan.teardown();
      // Another LAN took the same /24 between our check and our routes: pick again.
      if (!/File exists/.test(String(err))) break;
    }
  }
  throw lastError;
}

function makeLan(id: number, octets: [number, number], count: number, made: Made): VirtualLan {
  const base = `${NETNS_PREFIX}-${process.pid}-${id}`;
  const net = `10.${octets[0]}.${octets[1]}`;
  const hosts: LanHost[] = Array.from({ length: count }, (_, i) => ({
    index: i + 1, netns: `${base}-h${i + 1}`, address: `${net}.${i + 1}`,
    commandPrefix: [IP ?? 'ip', 'netns', 'exec', `${base}-h${i + 1}`],
  }));
  const bridgeNs = bridgeNsName(id);
  const cut = new Set<number>();
  let tornDown = false;
  const port = (h: LanHost): string => `lan${h.index}`;
  const lan: VirtualLan = {
    subnet: `${net}.0/24`,
    hosts,
    testAddress: `${net}.${TEST_OCTET}`,
    spawnIn: (h, command, args, options = {}) => spawn(IP ?? 'ip', ['netns', 'exec', h.netns, command, ...args], options),
    execIn: (h, command, args) => run(IP, ['netns', 'exec', h.netns, command, ...args]),
    cut: (h) => {
      run(IP, ['-n', bridgeNs, 'link', 'set', port(h), 'down']);
      cut.add(h.index);
    },
    heal: (h) => {
      run(IP, ['-n', bridgeNs, 'link', 'set', port(h), 'up']);
      cut.delete(h.index);
    },
    isCut: (h) => cut.has(h.index),
    setLatency: (delayMs) => setLatency(bridgeNs, hosts.map(port), delayMs),
    hostOfPid: (pid) => hosts.find((h) => sameNetns(`/proc/${pid}/ns/net`, path.join(NETNS_DIR, h.netns))),
    teardown: () => {
      if (tornDown) return;
      tornDown = true;
      liveLans.delete(lan);
      for (const link of made.rootLinks) runQuietly(IP, ['link', 'del', link]);
      for (const ns of made.namespaces) runQuietly(IP, ['netns', 'del', ns]);
    },
  };
  return lan;
}

function bridgeNsName(lanId: number): string {
  return `${NETNS_PREFIX}-${process.pid}-${lanId}-lan`;
}

/** The root-namespace end of host k's management link: `tm<pid36>-<lan36>-<k>`, <= 15 chars. */
function rootLinkName(lanId: number, hostIndex: number): string {
  const name = `tm${process.pid.toString(36)}-${lanId.toString(36)}-${hostIndex}`;
  assert.ok(name.length <= IFNAME_CHARS_MAX, `interface name ${name} too long`);
  return name;
}

/** Makes the bridge, then each host with its LAN veth and its management link. */
function buildLan(lanId: number, lan: VirtualLan, made: Made): void {
  const bridgeNs = bridgeNsName(lanId);
  made.namespaces.push(bridgeNs);
  run(IP, ['netns', 'add', bridgeNs]);
  run(IP, ['-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge']);
  run(IP, ['-n', bridgeNs, 'link', 'set', 'br0', 'up']);
  for (const h of lan.hosts) {
    made.namespaces.push(h.netns);
    run(IP, ['netns', 'add', h.netns]);
    run(IP, ['-n', h.netns, 'link', 'set', 'lo', 'up']);
    // The LAN: eth0 in the host, lanK on the bridge.
    const port = `lan${h.index}`;
    run(IP, ['-n', bridgeNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns]);
    run(IP, ['-n', bridgeNs, 'link', 'set', port, 'master', 'br0', 'up']);
    run(IP, ['-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
    run(IP, ['-n', h.netns, 'link', 'set', 'eth0', 'up']);
    // The management link: mgmt0 in the host, a /32 each way, nothing else routed over it.
    const rootLink = rootLinkName(lanId, h.index);
    made.rootLinks.push(rootLink);
    run(IP, ['link', 'add', rootLink, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', h.netns]);
    run(IP, ['addr', 'add', `${lan.testAddress}/32`, 'dev', rootLink]);
    run(IP, ['link', 'set', rootLink, 'up']);
    run(IP, ['route', 'add', `${h.address}/32`, 'dev', rootLink, 'src', lan.testAddress]);
    run(IP, ['-n', h.netns, 'link', 'set', 'mgmt0', 'up']);
    run(IP, ['-n', h.netns, 'route', 'add', `${lan.testAddress}/32`, 'dev', 'mgmt0']);
  }
}

function setLatency(bridgeNs: string, ports: string[], delayMs: number): string | undefined {
  assert.ok(Number.isFinite(delayMs) && delayMs > 0, 'latency must be positive');
  for (const p of ports) {
    try {
      run(TC, ['-n', bridgeNs, 'qdisc', 'replace', 'dev', p, 'root', 'netem', 'delay', `${delayMs}ms`]);
    } catch (err) {
      if (TC === undefined || /qdisc kind is unknown/.test(String(err))) {
        return TC === undefined ? 'tc is not installed (Debian: iproute2)' : 'this kernel has no netem qdisc (sch_netem)';
      }
      throw err;
    }
  }
  return undefined;
}

function sameNetns(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

// ---- addresses ----

/** Random `10.a.b` with no overlap with any root-namespace address or route (default excepted). */
function pickSubnet(): [number, number] {
  const taken = rootPrefixes();
  for (let i = 0; i < 1000; i++) {
    const a = 64 + Math.floor(Math.random() * 190);
    const b = Math.floor(Math.random() * 256);
    const lo = ipv4ToInt(`10.${a}.${b}.0`);
    if (!taken.some((p) => overlaps(lo, 24, p.base, p.bits))) return [a, b];
  }
  throw new Error('no free 10.x.y.0/24 for a test LAN');
}

function rootPrefixes(): Array<{ base: number; bits: number }> {
  const cidrs: string[] = [];
  for (const line of run(IP, ['-4', '-o', 'addr', 'show']).split('\n')) {
    const m = /inet (\d+\.\d+\.\d+\.\d+\/\d+)/.exec(line);
    if (m?.[1] !== undefined) cidrs.push(m[1]);
  }
  for (const line of run(IP, ['-4', 'route', 'show', 'table', 'all']).split('\n')) {
    const m = /^(?:[a-z]+ )?(\d+\.\d+\.\d+\.\d+(?:\/\d+)?)/.exec(line);
    if (m?.[1] !== undefined) cidrs.push(m[1]);
  }
  return cidrs.map((c) => {
    const [addr = '', bits = '32'] = c.split('/');
    return { base: ipv4ToInt(addr), bits: Number(bits) };
  });
}

function ipv4ToInt(a: string): number {
  const parts = a.split('.').map(Number);
  assert.ok(parts.length === 4 && parts.every((p) => p >= 0 && p <= 255), `bad IPv4 address ${a}`);
  return parts.reduce((n, p) => n * 256 + p, 0);
}

function overlaps(a: number, aBits: number, b: number, bBits: number): boolean {
  const bits = Math.min(aBits, bBits);
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
}

// ---- cleanup of this process and of dead ones ----

let exitHandlersInstalled = false;

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  process.on('exit', teardownAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      teardownAll();
      // Alone, we would swallow the signal. Exit as it would (128 + signo), but through
      // process.exit, so that the other 'exit' handlers (cluster.ts: SIGKILL the members) run.
      if (process.listenerCount(sig) === 1) process.exit(128 + os.constants.signals[sig]);
    };
    process.on(sig, onSignal);
  }
}

function teardownAll(): void {
  for (const lan of [...liveLans]) lan.teardown();
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes namespaces and root links of earlier test processes that died without cleaning up. */
function reapStale(): void {
  const nsPattern = new RegExp(`^${NETNS_PREFIX}-(\\d+)-`);
  for (const line of run(IP, ['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const pid = Number(nsPattern.exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid || pidAlive(pid)) continue;
    // Members orphaned by the dead test process still run in there: they go first.
    for (const orphan of runOr(IP, ['netns', 'pids', name], '').split('\n').filter((p) => /^\d+$/.test(p))) {
      try {
        process.kill(Number(orphan), 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    }
    runQuietly(IP, ['netns', 'del', name]);
  }
  for (const line of run(IP, ['-o', 'link', 'show']).split('\n')) {
    const m = /^\d+: (tm([0-9a-z]+)-[0-9a-z]+-\d+)[@:]/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) continue;
    const pid = parseInt(m[2], 36);
    if (pid !== process.pid && !pidAlive(pid)) runQuietly(IP, ['link', 'del', m[1]]);
  }
}

// ---- a tetcd cluster on the LAN ----

export interface NetnsCluster {
  cluster: Cluster;
  lan: VirtualLan;
  /** The host member `m` runs on (member i+1 on host i+1). */
  hostOf(m: ClusterMember): LanHost;
}

export interface NetnsClusterOptions {
  t: AfterHook;
  size?: number;
  token?: string;
  /** Extra tetcd flags for every member. */
  args?: string[];
}

/**
 * A tetcd cluster with one member per host, each listening on its host's address (ports 2379 and
 * 2380 everywhere). On `t.after` the members are stopped first, then the LAN is deleted.
 */
export async function startNetnsCluster(opts: NetnsClusterOptions): Promise<NetnsCluster> {
  const size = opts.size ?? 3;
  // Cleanup in reverse order of creation: members before the namespaces they run in.
  const undo: Array<() => Promise<void> | void> = [];
  opts.t.after(async () => {
    for (const fn of undo) await fn();
  });
  const own: AfterHook = { after: (fn) => { undo.unshift(fn); } };
  const lan = createLan({ hosts: size, t: own });
  const hosts: MemberHost[] = lan.hosts.map((h) => ({
    host: h.address, commandPrefix: h.commandPrefix, clientPort: NETNS_CLIENT_PORT, peerPort: NETNS_PEER_PORT,
  }));
  const cluster = await startCluster({
    t: own, size, hosts, args: opts.args ?? [], ...(opts.token === undefined ? {} : { token: opts.token }),
  });
  const hostOf = (m: ClusterMember): LanHost => {
    const h = lan.hosts.find((x) => x.address === m.host);
    assert.ok(h !== undefined, `${m.name} is not on the LAN`);
    return h;
  };
  return { cluster, lan, hostOf };
}
