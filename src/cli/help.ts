// The table of every flag etcd 3.4 registers, and the `--help` / `--version` texts made from it.
// The table is the single source of truth for src/cli/flags.ts: a flag's spelling, how its value
// is parsed (Go's flag package kinds), its default, the help group it is listed under (etcd's
// groups, in etcd's order), and whether tetcd acts on it. Descriptions are tetcd's own words.
//
// Defaults are etcd's, except the client and peer URLs: etcd says `localhost`, tetcd says
// `127.0.0.1` (DESIGN.md), because Node may bind `localhost` to ::1 alone while clients dial
// 127.0.0.1, and etcd (Go) always binds `localhost` to 127.0.0.1.

import process from 'node:process';

/** tetcd's own version; test/cli/flags.test.ts checks it against package.json. */
export const TETCD_VERSION = '0.1.0';
/** The etcd release whose flags and v3 API tetcd follows. */
export const ETCD_COMPAT_VERSION = '3.4';

export const DEFAULT_LISTEN_CLIENT_URL = 'http://127.0.0.1:2379';
export const DEFAULT_ADVERTISE_CLIENT_URL = 'http://127.0.0.1:2379';
export const DEFAULT_LISTEN_PEER_URL = 'http://127.0.0.1:2380';
export const DEFAULT_ADVERTISE_PEER_URL = 'http://127.0.0.1:2380';
export const DEFAULT_NAME = 'default';

/**
 * How a flag's value is parsed, after Go's flag kinds: `uint`/`int` are 64-bit with Go's base
 * prefixes (0x, 0o, 0b, leading 0), `uint32` is etcd's own value type (raw strconv errors),
 * `duration` is Go's time.ParseDuration, `urls` is etcd's UniqueURLs, `choice` is etcd's
 * SelectiveStringValue, `strings` a comma list, `legacy` a pre-v3 flag etcd accepts and ignores.
 */
export type FlagKind = 'string' | 'bool' | 'uint' | 'uint32' | 'int' | 'duration' | 'urls' | 'choice' | 'strings' | 'legacy';

/** yes: tetcd acts on it. ignored: accepted, validated as etcd does, warned about. rejected: refused when set. */
export type FlagSupport = 'yes' | 'ignored' | 'rejected';

export const HELP_GROUPS = [
  'Member', 'Clustering', 'Security', 'Auth', 'Profiling and Monitoring', 'Logging',
  'v2 Proxy (to be deprecated in v4)', 'Experimental feature', 'Unsafe feature', 'TO BE DEPRECATED', 'Hidden',
] as const;
export type HelpGroup = (typeof HELP_GROUPS)[number];

export interface FlagSpec {
  /** etcd's spelling without dashes; the ETCD_* variable is its upper snake case. */
  readonly name: string;
  readonly kind: FlagKind;
  readonly group: HelpGroup;
  /** Default value in flag syntax, parsed like a user's value ('' = empty). */
  readonly def: string;
  /** Default as the help shows it, when it differs from `def`. */
  readonly shown?: string;
  readonly help: string;
  readonly support: FlagSupport;
  /** `choice` flags: the accepted words. */
  readonly choices?: readonly string[];
  /** `urls` flags: a value that is accepted as is and keeps the current URLs (etcd's "exceptions"). */
  readonly urlException?: string;
}

function f(name: string, kind: FlagKind, group: HelpGroup, def: string, help: string, extra: Partial<FlagSpec> = {}): FlagSpec {
  return { name, kind, group, def, help, support: 'yes', ...extra };
}
const IGN: Partial<FlagSpec> = { support: 'ignored' };
const REJ: Partial<FlagSpec> = { support: 'rejected' };

/** Pre-v3 flags etcd 3.4 still accepts and ignores with a warning (etcdmain's `ignored` list). */
export const LEGACY_FLAGS = [
  'cluster-active-size', 'cluster-remove-delay', 'cluster-sync-interval', 'config', 'force', 'max-result-buffer',
  'max-retry-attempts', 'peer-heartbeat-interval', 'peer-election-timeout', 'retry-interval', 'snapshot', 'v', 'vv',
  'test.coverprofile', 'test.outputdir',
] as const;

const M: HelpGroup = 'Member';
const C: HelpGroup = 'Clustering';
const S: HelpGroup = 'Security';
const X: HelpGroup = 'Experimental feature';

export const FLAG_SPECS: readonly FlagSpec[] = [
  f('config-file', 'string', 'Hidden', '', 'YAML configuration file replacing flags and variables. Not supported by tetcd yet: refused.', REJ),
  f('name', 'string', M, DEFAULT_NAME, "This member's name, unique in the cluster."),
  f('data-dir', 'string', M, '', 'Directory holding the member\'s data (WAL, snapshots, key-value store).', { shown: '${name}.etcd' }),
  f('wal-dir', 'string', M, '', 'Put the write-ahead log in this directory instead of inside --data-dir.'),
  f('snapshot-count', 'uint', M, '100000', 'Committed entries between two snapshots of the raft log.'),
  f('heartbeat-interval', 'uint', M, '100', 'Milliseconds between leader heartbeats (the raft tick).'),
  f('election-timeout', 'uint', M, '1000', 'Milliseconds a follower waits without a heartbeat before it campaigns; at least 5 heartbeats, at most 50000.'),
  f('initial-election-tick-advance', 'bool', M, 'true', 'On boot, skip ahead most of the first election timeout so a cluster elects a leader sooner.'),
  f('listen-peer-urls', 'urls', M, DEFAULT_LISTEN_PEER_URL, 'Comma-separated URLs to accept peer (raft) traffic on; hosts must be IP addresses or localhost.', { urlException: '' }),
  f('listen-client-urls', 'urls', M, DEFAULT_LISTEN_CLIENT_URL, 'Comma-separated URLs to accept client traffic on; setting it requires --advertise-client-urls.', { urlException: '' }),
  f('max-snapshots', 'uint', M, '5', 'Snapshot files kept on disk (0 keeps all).'),
  f('max-wals', 'uint', M, '5', 'WAL segment files kept on disk (0 keeps all).'),
  f('quota-backend-bytes', 'int', M, '0', 'Raise the NOSPACE alarm when the key-value store grows past this size (0 means 2 GiB).'),
  f('backend-batch-interval', 'duration', M, '0s', 'Longest time the key-value store holds a write batch open before committing (0 = built-in default).', { shown: '' }),
  f('backend-batch-limit', 'int', M, '0', 'Most operations in one key-value store write batch (0 = built-in default).'),
  f('max-txn-ops', 'uint', M, '128', 'Most operations allowed in one transaction.'),
  f('max-request-bytes', 'uint', M, '1572864', 'Largest client request accepted, in bytes.'),
  f('max-concurrent-streams', 'uint32', M, '4294967295', 'gRPC streams per client connection. Ignored by tetcd (no gRPC endpoint yet).', { ...IGN, shown: 'math.MaxUint32' }),
  f('grpc-keepalive-min-time', 'duration', M, '5s', 'Shortest client ping interval tolerated. Ignored by tetcd (no gRPC endpoint yet).', IGN),
  f('grpc-keepalive-interval', 'duration', M, '2h0m0s', 'Server-to-client ping period. Ignored by tetcd (no gRPC endpoint yet).', { ...IGN, shown: '2h' }),
  f('grpc-keepalive-timeout', 'duration', M, '20s', 'Wait for a ping answer before closing. Ignored by tetcd (no gRPC endpoint yet).', IGN),

  f('initial-advertise-peer-urls', 'urls', C, DEFAULT_ADVERTISE_PEER_URL, 'Comma-separated peer URLs this member announces to the cluster; must match its --initial-cluster entry.', { urlException: '' }),
  f('initial-cluster', 'string', C, `${DEFAULT_NAME}=${DEFAULT_ADVERTISE_PEER_URL}`, 'Bootstrap membership, name=peerURL pairs separated by commas; defaults to --name with --initial-advertise-peer-urls.'),
  f('initial-cluster-state', 'choice', C, 'new', "'new' to bootstrap a cluster, 'existing' to join one.", { choices: ['new', 'existing'] }),
  f('initial-cluster-token', 'string', C, 'etcd-cluster', 'Cluster token mixed into member and cluster ids, so that separate clusters never mistake each other.'),
  f('advertise-client-urls', 'urls', C, DEFAULT_ADVERTISE_CLIENT_URL, 'Comma-separated client URLs this member announces; clients use them to reach it.', { urlException: '' }),
  f('discovery', 'string', C, '', 'Discovery service URL for bootstrapping. Not supported by tetcd yet: refused.', REJ),
  f('discovery-fallback', 'choice', C, 'proxy', "What to do when discovery fails ('exit' or 'proxy'). Ignored by tetcd.", { ...IGN, choices: ['proxy', 'exit'] }),
  f('discovery-proxy', 'string', C, '', 'HTTP proxy for the discovery service. Ignored by tetcd.', IGN),
  f('discovery-srv', 'string', C, '', 'DNS domain whose SRV records list the cluster. Not supported by tetcd yet: refused.', REJ),
  f('discovery-srv-name', 'string', C, '', 'Suffix of the SRV service name. Not supported by tetcd yet: refused.', REJ),
  f('strict-reconfig-check', 'bool', C, 'true', 'Refuse membership changes that would lose quorum.'),
  f('pre-vote', 'bool', C, 'false', 'Run raft\'s pre-vote phase before campaigning, so a partitioned member cannot disrupt the leader.'),
  f('auto-compaction-retention', 'string', C, '0', 'History to keep when compacting automatically: hours or a duration (periodic mode), or revisions (revision mode). 0 disables it.'),
  f('auto-compaction-mode', 'string', C, 'periodic', "How to read --auto-compaction-retention: 'periodic' (time) or 'revision' (count)."),
  f('enable-v2', 'bool', C, 'false', 'Serve the v2 API. Ignored by tetcd (v3 only).', IGN),

  f('cert-file', 'string', S, '', 'TLS certificate for client traffic. Ignored by tetcd (no TLS yet; https listen URLs are refused).', IGN),
  f('key-file', 'string', S, '', 'TLS key for client traffic. Ignored by tetcd.', IGN),
  f('client-cert-auth', 'bool', S, 'false', 'Require client certificates. Ignored by tetcd.', IGN),
  f('client-crl-file', 'string', S, '', 'Revoked client certificates. Ignored by tetcd.', IGN),
  f('client-cert-allowed-hostname', 'string', S, '', 'Hostname client certificates must carry. Ignored by tetcd.', IGN),
  f('trusted-ca-file', 'string', S, '', 'CA for client certificates. Ignored by tetcd.', IGN),
  f('auto-tls', 'bool', S, 'false', 'Self-signed certificates for client traffic. Ignored by tetcd.', IGN),
  f('peer-cert-file', 'string', S, '', 'TLS certificate for peer traffic. Ignored by tetcd.', IGN),
  f('peer-key-file', 'string', S, '', 'TLS key for peer traffic. Ignored by tetcd.', IGN),
  f('peer-client-cert-auth', 'bool', S, 'false', 'Require peer certificates. Ignored by tetcd.', IGN),
  f('peer-trusted-ca-file', 'string', S, '', 'CA for peer certificates. Ignored by tetcd.', IGN),
  f('peer-cert-allowed-cn', 'string', S, '', 'CN peer certificates must carry. Ignored by tetcd.', IGN),
  f('peer-cert-allowed-hostname', 'string', S, '', 'Hostname peer certificates must carry. Ignored by tetcd.', IGN),
  f('peer-auto-tls', 'bool', S, 'false', 'Self-signed certificates for peer traffic. Ignored by tetcd.', IGN),
  f('peer-crl-file', 'string', S, '', 'Revoked peer certificates. Ignored by tetcd.', IGN),
  f('cipher-suites', 'strings', S, '', 'Allowed TLS cipher suites. Ignored by tetcd.', IGN),
  f('cors', 'urls', S, '*', 'Origins allowed by CORS (* = all). Ignored by tetcd.', { ...IGN, urlException: '*' }),
  f('host-whitelist', 'strings', S, '*', 'Host headers accepted on plain HTTP (* = all). Ignored by tetcd.', IGN),

  f('auth-token', 'string', 'Auth', 'simple', "Auth token type and options ('simple' or 'jwt,...'). Ignored by tetcd.", IGN),
  f('bcrypt-cost', 'uint', 'Auth', '10', 'bcrypt cost for password hashes (4 to 31). Ignored by tetcd.', IGN),
  f('auth-token-ttl', 'uint', 'Auth', '300', 'Seconds a simple auth token lives. Ignored by tetcd.', IGN),

  f('enable-pprof', 'bool', 'Profiling and Monitoring', 'false', 'Serve profiling data under <client URL>/debug/pprof/.'),
  f('metrics', 'string', 'Profiling and Monitoring', 'basic', "Metrics detail: 'basic', or 'extensive' to add histograms."),
  f('listen-metrics-urls', 'urls', 'Profiling and Monitoring', '', 'Extra comma-separated URLs serving only /metrics and /health.', { urlException: '' }),

  f('logger', 'string', 'Logging', 'capnslog', "'capnslog' or 'zap'; tetcd logs pino JSON lines either way."),
  f('log-outputs', 'strings', 'Logging', 'default', "Where logs go: 'default', 'stderr', 'stdout' (zap also takes file paths)."),
  f('log-level', 'string', 'Logging', 'info', 'Least severe level logged: debug, info, warn, error, panic or fatal.'),

  f('proxy', 'choice', 'v2 Proxy (to be deprecated in v4)', 'off', "v2 proxy mode ('off', 'readonly' or 'on'). tetcd refuses anything but 'off'.", { support: 'rejected', choices: ['off', 'readonly', 'on'] }),
  f('proxy-failure-wait', 'uint', 'v2 Proxy (to be deprecated in v4)', '5000', 'Milliseconds a failed endpoint stays out. Ignored by tetcd.', IGN),
  f('proxy-refresh-interval', 'uint', 'v2 Proxy (to be deprecated in v4)', '30000', 'Milliseconds between endpoint refreshes. Ignored by tetcd.', IGN),
  f('proxy-dial-timeout', 'uint', 'v2 Proxy (to be deprecated in v4)', '1000', 'Milliseconds before a dial gives up. Ignored by tetcd.', IGN),
  f('proxy-write-timeout', 'uint', 'v2 Proxy (to be deprecated in v4)', '5000', 'Milliseconds before a write gives up. Ignored by tetcd.', IGN),
  f('proxy-read-timeout', 'uint', 'v2 Proxy (to be deprecated in v4)', '0', 'Milliseconds before a read gives up. Ignored by tetcd.', IGN),

  f('experimental-initial-corrupt-check', 'bool', X, 'false', 'Compare hashes with peers before serving. Ignored by tetcd.', IGN),
  f('experimental-corrupt-check-time', 'duration', X, '0s', 'Period of cluster-wide hash checks. Ignored by tetcd.', IGN),
  f('experimental-enable-v2v3', 'string', X, '', 'Serve v2 through the v3 store under this prefix. Ignored by tetcd.', IGN),
  f('experimental-backend-bbolt-freelist-type', 'string', X, 'array', 'bbolt freelist type. Ignored by tetcd (RocksDB backend).', IGN),
  f('experimental-enable-lease-checkpoint', 'bool', X, 'false', 'Leader checkpoints lease TTLs to followers. Ignored by tetcd.', IGN),
  f('experimental-enable-lease-checkpoint-persist', 'bool', X, 'false', 'Persist lease checkpoints (needs the flag above). Ignored by tetcd.', IGN),
  f('experimental-compaction-batch-limit', 'int', X, '1000', 'Most revisions removed per compaction batch.'),
  f('experimental-peer-skip-client-san-verification', 'bool', X, 'false', 'Skip SAN checks of peer client certificates. Ignored by tetcd.', IGN),
  f('experimental-watch-progress-notify-interval', 'duration', X, '10m0s', 'Period of progress notifications sent to watchers that asked for them.', { shown: '10m' }),
  f('experimental-warning-apply-duration', 'duration', X, '100ms', 'Log a warning when applying one entry takes longer than this.'),

  f('unsafe-no-fsync', 'bool', 'Unsafe feature', 'false', 'Never fsync: fast, and loses data on a crash. For tests only.'),
  f('force-new-cluster', 'bool', 'Unsafe feature', 'false', 'Restart as a one-member cluster, dropping the others. Not supported by tetcd yet: refused.', REJ),

  f('debug', 'bool', 'TO BE DEPRECATED', 'false', 'Same as --log-level=debug.'),
  f('log-package-levels', 'string', 'TO BE DEPRECATED', '', 'Per-package capnslog levels. Ignored by tetcd.', IGN),
  f('log-output', 'strings', 'TO BE DEPRECATED', 'default', 'Old spelling of --log-outputs.'),
  f('enable-grpc-gateway', 'bool', 'Hidden', 'true', 'Serve the v3 JSON gateway. tetcd always serves it: ignored.', IGN),
  f('version', 'bool', 'Hidden', 'false', 'Print the version and exit.'),
  ...LEGACY_FLAGS.map((name) => f(name, 'legacy', 'Hidden', '', 'Pre-v3 flag, accepted and ignored.', IGN)),
];

/** Printed to stderr after a flag syntax error, as Go's flag package does with etcd's usage. */
export const USAGE_TEXT = `Usage:

  tetcd [flags]
    Start a tetcd member (etcd 3.4 flags and ETCD_* variables).

  tetcd --version
    Show the version of tetcd.

  tetcd -h | --help
    Show this help.
`;

function renderFlag(spec: FlagSpec): string {
  return `  --${spec.name} '${spec.shown ?? spec.def}'\n    ${spec.help}\n`;
}

/** The full `--help` text: usage, then every flag (legacy ones excepted) under etcd's groups. */
export function renderHelp(): string {
  const parts = [USAGE_TEXT];
  for (const group of HELP_GROUPS) {
    const specs = FLAG_SPECS.filter((s) => s.group === group && s.kind !== 'legacy');
    if (specs.length === 0) continue;
    parts.push(`\n${group === 'Hidden' ? 'Other' : group}:\n`);
    for (const s of specs) parts.push(renderFlag(s));
  }
  parts.push(`
Client and peer URLs default to 127.0.0.1 where etcd's default to localhost.
Every flag can also be set with an ETCD_* environment variable (--initial-cluster-token is
ETCD_INITIAL_CLUSTER_TOKEN). Setting both a flag and its variable is an error, as in etcd.
Flags marked "Ignored by tetcd" are accepted and checked like etcd does, then ignored with a
warning; flags marked "refused" stop tetcd when set.
`);
  return parts.join('');
}

/** The `--version` text, shaped like etcd's. */
export function renderVersion(): string {
  return [
    `tetcd Version: ${TETCD_VERSION}`,
    `etcd API Version: ${ETCD_COMPAT_VERSION}`,
    `Node Version: ${process.version}`,
    `Node OS/Arch: ${process.platform}/${process.arch}`,
    '',
  ].join('\n');
}
