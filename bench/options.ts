// Command-line parsing for `npm run bench -- <scenario> [flags]`: a pure function from argv to
// a validated `BenchOptions` (or a `UsageError` whose message says what is wrong). Every knob
// that sizes the run has a default that keeps a run short and an upper bound that keeps it
// bounded, so a typo cannot start an hour-long or million-client run.

import os from 'node:os';
import type { HttpClientKind } from './http-client.js';

export class UsageError extends Error {}

export type Target = 'etcd' | 'tetcd';

export interface BenchOptions {
  readonly scenario: string;
  /** Endpoints of an already running server; empty = the bench starts its own. */
  readonly endpoints: string[];
  /**
   * What the bench starts when there are no endpoints and no `--compare` (undefined: tetcd); with
   * `--endpoints`, only the label of the given server in the results.
   */
  readonly target: Target | undefined;
  /** `--compare etcd`: run tetcd and etcd alternately and print ratios. */
  readonly compare: boolean;
  readonly clientCounts: number[];
  readonly threads: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly rounds: number;
  /** Members to start; undefined = the scenario's default. */
  readonly members: number | undefined;
  readonly keyCount: number;
  readonly valueBytes: number;
  readonly readRatio: number;
  readonly params: Record<string, string>;
  /** Watch fan-out: the watcher counts W to measure (a list runs each), instead of client counts. */
  readonly watcherCounts: number[];
  /** Watch fan-out: `http` (one POST stream per watcher) or `ws` (WebSocket, several per socket). */
  readonly transport: 'http' | 'ws';
  /** Watch fan-out: the writer's puts per second. */
  readonly ratePerS: number;
  /** Lease keep-alives (`lease`): the lease counts L to measure (a list runs each), instead of client counts. */
  readonly leaseCounts: number[];
  readonly http: HttpClientKind;
  readonly requestTimeoutMs: number;
  readonly profile: boolean;
  /** Write bench/out, bench/RESULTS.md and the chart (off with `--no-record`). */
  readonly record: boolean;
  /** A free-text note appended to the RESULTS.md entry. */
  readonly note: string;
  readonly help: boolean;
}

export const limits = {
  clientsMax: 4096,
  clientCountsMax: 16,
  threadsMax: 64,
  durationSMax: 3600,
  warmupSMax: 600,
  roundsMax: 20,
  keyCountMax: 1_000_000,
  valueBytesMax: 1_048_576,
  requestTimeoutMsMax: 120_000,
  watchersMax: 20_000,
  ratePerSMax: 20_000,
  leasesMax: 1_000_000,
} as const;

export const USAGE = `usage: npm run bench -- <scenario> [flags]
       npm run bench -- --self-test [flags]      (the generator's ceiling: scenario 'ceiling')

targets (default: start a fresh tetcd):
  --endpoints URL,...     drive running servers (clients are spread over them)
  --target etcd|tetcd     start a fresh server of this kind
  --compare etcd          start fresh tetcd and etcd alternately (A/B/A/B) and print ratios
  --members N             members to start (3 = loopback cluster); default: scenario's (1)
load:
  --clients N[,N...]      clients (one request in flight each); a list runs each (default 16)
  --threads N             piscina load workers (default: min(cores, clients))
  --duration S            measured seconds per point (default 10)
  --warmup S              warm-up seconds per point (default 2)
  --rounds N              repetitions per target (default 1; 2 with --compare)
  --http raw|node         HTTP client: raw sockets (default) or node:http keep-alive Agent
  --timeout MS            per-request timeout (default 10000)
workload:
  --keys K                key space (default 1000)
  --value-size V          value bytes (default 256)
  --read-ratio R          reads in 'mixed', 0..1 (default 0.9)
  --param name=value      scenario-specific knob (repeatable)
watch fan-out ('watch'):
  --watchers W[,W...]     watchers on one prefix; a list runs each (default 100)
  --transport http|ws     POST /v3/watch streams (one each) or WebSocket (default http)
  --rate R                the writer's puts per second (default 200)
  --param watches-per-socket=N   ws: watches per socket (default 100)
  --param open-rate=N     watchers opened per second (default 1000)
  --param drain=S         seconds watchers may take to catch up after the writer (default 10)
lease keep-alives ('lease'):
  --leases L[,L...]       leases granted, then kept alive; a list runs each (default 1000)
  --transport http|ws     keep-alive streams: POST /v3/lease/keepalive or WebSocket (default http)
  --param streams=N       keep-alive streams (default 16)
  --param window=N        keep-alives in flight per stream (default 1)
  --param ttl=S           TTL of the granted leases (default 3600)
  --param grant-concurrency=N   grants (and revokes) in flight (default 64)
  --param idle=S          idle window for the CPU at rest, 0 = skip (default 10)
  --param settle=S        pause after granting, before the idle window (default 2)
output:
  --profile               tetcd writes per-thread CPU profiles (TETCD_CPU_PROFILE_DIR)
  --no-record             do not write bench/out, bench/RESULTS.md or bench/charts
  --note TEXT             a note for the RESULTS.md entry
`;

function intIn(flag: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} wants an integer in ${min}..${max}, got '${text ?? ''}'`);
  }
  return n;
}

function numIn(flag: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${flag} wants a number in ${min}..${max}, got '${text ?? ''}'`);
  }
  return n;
}

export function parseEndpoints(text: string): string[] {
  const urls = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (urls.length === 0) throw new UsageError('--endpoints wants at least one URL');
  return urls.map((u) => {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new UsageError(`--endpoints: not a URL: '${u}'`);
    }
    if (parsed.protocol !== 'http:') throw new UsageError(`--endpoints: only http:// is supported: '${u}'`);
    return `http://${parsed.host}`;
  });
}

export function parseClientCounts(text: string | undefined, flag = '--clients', max: number = limits.clientsMax): number[] {
  const parts = (text ?? '').split(',');
  if (parts.length > limits.clientCountsMax) throw new UsageError(`${flag}: at most ${limits.clientCountsMax} values`);
  return parts.map((p) => intIn(flag, p.trim(), 1, max));
}

/** The watch fan-out flags (meaningful for the `watch` scenario, checked for every run). */
function parseFanout(one: One): Pick<BenchOptions, 'watcherCounts' | 'transport' | 'ratePerS'> {
  const transport = one('--transport') ?? 'http';
  if (transport !== 'http' && transport !== 'ws') throw new UsageError(`--transport wants http or ws, got '${transport}'`);
  return {
    watcherCounts: parseClientCounts(one('--watchers') ?? '100', '--watchers', limits.watchersMax),
    transport,
    ratePerS: numIn('--rate', one('--rate') ?? '200', 0.1, limits.ratePerSMax),
  };
}

interface Raw {
  positional: string[];
  values: Map<string, string[]>;
}

/** Flags that take no value. */
const switches = new Set(['--self-test', '--profile', '--no-record', '--help', '-h']);

function splitArgv(argv: readonly string[]): Raw {
  const raw: Raw = { positional: [], values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('-')) {
      raw.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 && arg.startsWith('--') ? arg.slice(0, eq) : arg;
    let value = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : undefined;
    if (!switches.has(name) && value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
    }
    raw.values.set(name, [...(raw.values.get(name) ?? []), value ?? 'true']);
  }
  return raw;
}

const valueFlags = new Set([
  '--endpoints', '--target', '--compare', '--members', '--clients', '--threads', '--duration', '--warmup',
  '--rounds', '--http', '--timeout', '--keys', '--value-size', '--read-ratio', '--param', '--note',
  '--watchers', '--transport', '--rate', '--leases',
]);

type One = (name: string) => string | undefined;

/** Which server(s) to measure: scenario, endpoints, target, compare, members. */
function parseTargets(raw: Raw, one: One, help: boolean): Pick<BenchOptions, 'scenario' | 'endpoints' | 'target' | 'compare' | 'members'> {
  const selfTest = raw.values.has('--self-test');
  if (raw.positional.length > 1) throw new UsageError(`one scenario at a time, got: ${raw.positional.join(' ')}`);
  if (selfTest && raw.positional.length > 0 && raw.positional[0] !== 'ceiling') throw new UsageError('--self-test runs the ceiling scenario; drop the scenario name');
  const scenario = selfTest ? 'ceiling' : raw.positional[0];
  if (scenario === undefined && !help) throw new UsageError('which scenario? (see --help)');
  const compareText = one('--compare');
  if (compareText !== undefined && compareText !== 'etcd') throw new UsageError(`--compare: only 'etcd' is supported, got '${compareText}'`);
  const target = one('--target');
  if (target !== undefined && target !== 'etcd' && target !== 'tetcd') throw new UsageError(`--target wants etcd or tetcd, got '${target}'`);
  const endpointsText = one('--endpoints');
  const endpoints = endpointsText === undefined ? [] : parseEndpoints(endpointsText);
  if (endpoints.length > 0 && compareText !== undefined) throw new UsageError('--compare starts its own servers; drop --endpoints');
  const membersText = one('--members');
  return {
    scenario: scenario ?? '',
    endpoints,
    target,
    compare: compareText !== undefined,
    members: membersText === undefined ? undefined : intIn('--members', membersText, 1, 7),
  };
}

function parseParams(values: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const p of values) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param wants name=value, got '${p}'`);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return params;
}

export function parseOptions(argv: readonly string[], cores = os.availableParallelism()): BenchOptions {
  const raw = splitArgv(argv);
  for (const name of raw.values.keys()) {
    if (!valueFlags.has(name) && !switches.has(name)) throw new UsageError(`unknown flag ${name}`);
  }
  const one: One = (name) => raw.values.get(name)?.at(-1);
  const help = raw.values.has('--help') || raw.values.has('-h');
  const targets = parseTargets(raw, one, help);
  const http = one('--http') ?? 'raw';
  if (http !== 'raw' && http !== 'node') throw new UsageError(`--http wants raw or node, got '${http}'`);
  const clientCounts = parseClientCounts(one('--clients') ?? '16');
  const fanout = parseFanout(one);
  const leaseCounts = parseClientCounts(one('--leases') ?? '1000', '--leases', limits.leasesMax);
  const threadsText = one('--threads');
  return {
    ...targets,
    ...fanout,
    leaseCounts,
    clientCounts,
    threads: threadsText === undefined ? Math.max(1, Math.min(cores, Math.max(...clientCounts))) : intIn('--threads', threadsText, 1, limits.threadsMax),
    durationS: numIn('--duration', one('--duration') ?? '10', 0.1, limits.durationSMax),
    warmupS: numIn('--warmup', one('--warmup') ?? '2', 0, limits.warmupSMax),
    rounds: intIn('--rounds', one('--rounds') ?? (targets.compare ? '2' : '1'), 1, limits.roundsMax),
    keyCount: intIn('--keys', one('--keys') ?? '1000', 1, limits.keyCountMax),
    valueBytes: intIn('--value-size', one('--value-size') ?? '256', 0, limits.valueBytesMax),
    readRatio: numIn('--read-ratio', one('--read-ratio') ?? '0.9', 0, 1),
    params: parseParams(raw.values.get('--param') ?? []),
    http,
    requestTimeoutMs: intIn('--timeout', one('--timeout') ?? '10000', 1, limits.requestTimeoutMsMax),
    profile: raw.values.has('--profile'),
    record: !raw.values.has('--no-record'),
    note: one('--note') ?? '',
    help,
  };
}

/** The watch fan-out's `--param` knobs, with their defaults and bounds. */
export interface FanoutParams {
  /** WebSocket: watches created on one socket (etcd 3.4's gateway takes several per socket). */
  readonly watchesPerSocket: number;
  /** Watchers opened per second over all workers (bounded, so 10,000 do not arrive at once). */
  readonly openRatePerS: number;
  /** After the writer stops, how long watchers may take to receive the last events. */
  readonly drainS: number;
}

export function fanoutParams(params: Readonly<Record<string, string>>): FanoutParams {
  for (const name of Object.keys(params)) {
    if (!['watches-per-socket', 'open-rate', 'drain'].includes(name)) throw new UsageError(`watch: unknown --param ${name} (watches-per-socket, open-rate, drain)`);
  }
  return {
    watchesPerSocket: intIn('--param watches-per-socket', params['watches-per-socket'] ?? '100', 1, 10_000),
    openRatePerS: numIn('--param open-rate', params['open-rate'] ?? '1000', 1, 100_000),
    drainS: numIn('--param drain', params.drain ?? '10', 0.1, 600),
  };
}

/** The lease scenario's `--param` knobs, with their defaults and bounds (see bench/README.md). */
export interface LeaseParams {
  /** Keep-alive streams held open during the keep-alive window (each its own connection). */
  readonly streams: number;
  /** Keep-alives in flight per stream: 1 = send the next when the answer arrives. */
  readonly window: number;
  /** TTL the leases are granted with; long, so that none can expire however slow the grants are. */
  readonly ttlS: number;
  /** Grant (and revoke) requests in flight at once, each on its own connection. */
  readonly grantConcurrency: number;
  /** The idle window in which the server's CPU at rest is measured; 0 skips it. */
  readonly idleS: number;
  /** Pause between the last grant and the idle window, for the servers' own batching to settle. */
  readonly settleS: number;
}

const leaseParamNames = ['streams', 'window', 'ttl', 'grant-concurrency', 'idle', 'settle'];

/** Largest TTL etcd grants (its MaxLeaseTTL, 9,000,000,000 s); more is refused by both servers. */
export const leaseTtlSMax = 9_000_000_000;

export function leaseParams(params: Readonly<Record<string, string>>): LeaseParams {
  for (const name of Object.keys(params)) {
    if (!leaseParamNames.includes(name)) throw new UsageError(`lease: unknown --param ${name} (${leaseParamNames.join(', ')})`);
  }
  return {
    streams: intIn('--param streams', params.streams ?? '16', 1, limits.clientsMax),
    window: intIn('--param window', params.window ?? '1', 1, 64),
    ttlS: intIn('--param ttl', params.ttl ?? '3600', 10, leaseTtlSMax),
    grantConcurrency: intIn('--param grant-concurrency', params['grant-concurrency'] ?? '64', 1, 1024),
    idleS: numIn('--param idle', params.idle ?? '10', 0, limits.warmupSMax),
    settleS: numIn('--param settle', params.settle ?? '2', 0, 60),
  };
}
