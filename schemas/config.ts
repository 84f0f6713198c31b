// zod schema of a member's configuration: what `tetcd` runs with once etcd's flags and ETCD_*
// variables have been parsed (src/cli/flags.ts builds it; src/server consumes it). One field per
// etcd 3.4 flag that tetcd acts on, named after the flag in camelCase with its unit last
// (`--heartbeat-interval` -> `heartbeatIntervalMs`). Flags tetcd accepts but ignores (TLS, auth,
// v2 proxy, ...) have no field here: see UNSUPPORTED_FLAGS in src/cli/flags.ts.
//
// The schema re-checks the invariants etcd enforces at startup, so a config built by hand (tests,
// embedding) is held to the same rules as one parsed from flags. URLs are WHATWG `URL` objects
// whose `String()` is etcd's spelling (`http://127.0.0.1:2380`, no trailing slash), because
// member ids are hashed from those strings. URL objects do not survive structured clone: send
// `String(url)` across threads.

import { z } from 'zod';

/** etcd's `--election-timeout` ceiling (embed.maxElectionMs). */
export const ELECTION_TIMEOUT_MAX_MS = 50_000;
/** etcd refuses an election timeout below this many heartbeats. */
export const ELECTION_TIMEOUT_HEARTBEATS_MIN = 5;
/** What `--quota-backend-bytes 0` means: etcd's DefaultQuotaBytes (2 GiB). */
export const QUOTA_BACKEND_BYTES_DEFAULT = 2 * 1024 * 1024 * 1024;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal'] as const;
export type EtcdLogLevel = (typeof LOG_LEVELS)[number];

const url = z.instanceof(URL);
const count = z.number().int().nonnegative();

export const InitialClusterMemberSchema = z.object({
  name: z.string().min(1),
  /** Sorted by their etcd spelling, as etcd's types.URLs sorts them. */
  peerUrls: z.array(url).min(1),
}).strict();
export type InitialClusterMember = z.output<typeof InitialClusterMemberSchema>;

export const MemberConfigSchema = z.object({
  // Member
  name: z.string(),
  /** Never empty: defaults to `<name>.etcd`, relative to the working directory. */
  dataDir: z.string().min(1),
  /** '' means the WAL lives in `<dataDir>/member/wal`. */
  walDir: z.string(),
  snapshotCount: count,
  heartbeatIntervalMs: z.number().int().positive(),
  electionTimeoutMs: z.number().int().positive().max(ELECTION_TIMEOUT_MAX_MS),
  initialElectionTickAdvance: z.boolean(),
  listenPeerUrls: z.array(url).min(1),
  listenClientUrls: z.array(url).min(1),
  maxSnapshots: count,
  maxWals: count,
  /** 0 means QUOTA_BACKEND_BYTES_DEFAULT; negative disables the quota (etcd's rule). */
  quotaBackendBytes: z.number().int(),
  /** 0 means the backend's own default commit interval. */
  backendBatchIntervalMs: z.number().nonnegative(),
  /** 0 means the backend's own default batch size. */
  backendBatchLimit: z.number().int(),
  maxTxnOps: count,
  maxRequestBytes: count,
  // Clustering
  initialAdvertisePeerUrls: z.array(url).min(1),
  /** Sorted by member name; contains `name` with exactly `initialAdvertisePeerUrls`. */
  initialCluster: z.array(InitialClusterMemberSchema).min(1),
  initialClusterState: z.enum(['new', 'existing']),
  initialClusterToken: z.string(),
  advertiseClientUrls: z.array(url).min(1),
  strictReconfigCheck: z.boolean(),
  preVote: z.boolean(),
  autoCompactionMode: z.enum(['periodic', 'revision']),
  /** As given ("0", "5", "5m", "1h30m"): interpret with compactionRetention() in flags.ts. */
  autoCompactionRetention: z.string(),
  // Profiling and monitoring
  enablePprof: z.boolean(),
  /** 'basic' or 'extensive' (etcd accepts any word and treats all but 'extensive' as basic). */
  metrics: z.string(),
  listenMetricsUrls: z.array(url),
  // Logging
  logger: z.enum(['capnslog', 'zap']),
  logOutputs: z.array(z.string()).min(1),
  logLevel: z.enum(LOG_LEVELS),
  // Experimental
  experimentalCompactionBatchLimit: z.number().int(),
  experimentalWatchProgressNotifyIntervalMs: z.number().nonnegative(),
  experimentalWarningApplyDurationMs: z.number().nonnegative(),
  // Unsafe
  unsafeNoFsync: z.boolean(),
}).strict().superRefine((cfg, ctx) => {
  if (cfg.electionTimeoutMs < ELECTION_TIMEOUT_HEARTBEATS_MIN * cfg.heartbeatIntervalMs) {
    ctx.addIssue({ code: 'custom', path: ['electionTimeoutMs'], message: `must be at least ${ELECTION_TIMEOUT_HEARTBEATS_MIN}x heartbeatIntervalMs` });
  }
  const self = cfg.initialCluster.find((m) => m.name === cfg.name);
  if (self === undefined) {
    ctx.addIssue({ code: 'custom', path: ['initialCluster'], message: `has no member named ${JSON.stringify(cfg.name)}` });
  }
});
export type MemberConfig = z.output<typeof MemberConfigSchema>;
