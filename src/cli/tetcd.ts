// `tetcd`: starts one member in the foreground, with etcd's flags and ETCD_* variables.
//
//   npm start -- --name infra1 --data-dir /var/lib/tetcd ...
//
// SIGINT and SIGTERM stop it cleanly: the gateway stops accepting connections and answers the
// requests it already has, then the member drains, commits and closes its files. A second
// signal during shutdown exits at once.
//
// Failpoint (tests only): with TETCD_FAILPOINTS=1 in the environment, SIGUSR2 toggles "peer
// traffic blocked": raft-node's transport drops every raft message and snapshot to and from the
// peers while the member keeps serving clients (test/cluster/partition.test.ts isolates a leader
// this way). Without the variable SIGUSR2 is ignored (logged). Either way the handler is in
// place once the member serves clients; before that SIGUSR2 ends the process (Node's default).

import assert from 'node:assert/strict';
import type { MemberConfig } from '../../schemas/config.js';
import { buildGateway } from '../gateway/app.js';
import { watchService } from '../gateway/routes/watch.js';
import { leaseService } from '../gateway/routes/lease.js';
import { clusterService } from '../gateway/routes/cluster.js';
import { WatchHub } from '../watch/hub.js';
import { ConfigError, parseMemberConfig } from './flags.js';
import { createActorLogger } from '../server/log.js';
import type { LogLevel } from '../server/log.js';
import { Member } from '../server/member.js';
import { computeClusterId, computeMemberId } from '../server/member-init.js';
import { startCpuProfile } from '../server/profile.js';

/** etcd's log levels include Go's dpanic and panic, which pino calls fatal. */
function pinoLevelOf(level: string): LogLevel {
  if (level === 'dpanic' || level === 'panic') return 'fatal';
  return level as LogLevel;
}

/**
 * Every member's id from --initial-cluster and the token (the same flags always give the same
 * ids), this member's, the cluster's, and the peers this member talks to.
 */
function identityOf(cfg: Pick<MemberConfig, 'initialCluster' | 'initialClusterToken' | 'name' | 'initialClusterState'>) {
  const members = cfg.initialCluster.map((m) => {
    const urls = m.peerUrls.map(String);
    return { name: m.name, urls, id: computeMemberId(urls, cfg.initialClusterToken) };
  });
  const self = members.find((p) => p.name === cfg.name);
  if (!self) throw new Error(`tetcd: --initial-cluster has no member named ${cfg.name}`);
  assert.equal(new Set(members.map((m) => m.id)).size, members.length, 'member ids are distinct');
  // A member started with --initial-cluster-state existing was added to a running cluster, whose
  // id the list does not give (members may have come and gone since it was bootstrapped): it
  // starts with 0, "unknown", and takes the id from its peers (src/transport/handshake.ts). A
  // member that already stored an id (a restart) keeps that one (workers/raft-node.ts).
  const joining = cfg.initialClusterState === 'existing' && members.length > 1;
  const clusterId = joining ? 0n : computeClusterId(members.map((p) => p.id));
  return { members, memberId: self.id, clusterId, peers: members.filter((p) => p.id !== self.id) };
}

/** A URL object leaves the port empty when it is the scheme's default. */
function portOf(u: URL): number {
  if (u.port !== '') return Number(u.port);
  return u.protocol === 'https:' ? 443 : 80;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseMemberConfig>;
  try {
    parsed = parseMemberConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
  if ('help' in parsed) {
    process.stdout.write(parsed.help);
    return 0;
  }
  if ('version' in parsed) {
    process.stdout.write(parsed.version);
    return 0;
  }
  const cfg = parsed.config;
  const stopProfile = startCpuProfile('gateway');
  const logLevel = pinoLevelOf(cfg.logLevel);
  const logger = createActorLogger(logLevel, 'gateway', cfg.name);
  for (const w of parsed.warnings) logger.warn(w);

  const { members, memberId, clusterId, peers } = identityOf(cfg);
  // existing: a member added with `member add` joins; on an empty log it learns the log (and the
  // configuration) from the leader instead of bootstrapping voters. A member restarted over its
  // data dir goes on from its WAL, whatever --initial-cluster-state says (raft-node decides).
  const join = cfg.initialClusterState === 'existing';
  let onRemoved = (): void => undefined;

  const member = await Member.start({
    name: cfg.name,
    dataDir: cfg.dataDir,
    ...(cfg.walDir ? { walDir: cfg.walDir } : {}),
    memberId,
    clusterId,
    initialVoters: members.map((p) => p.id),
    peers,
    listenPeerUrls: cfg.listenPeerUrls.map(String),
    clusterToken: cfg.initialClusterToken,
    snapshotCount: cfg.snapshotCount,
    heartbeatIntervalMs: cfg.heartbeatIntervalMs,
    electionTimeoutMs: cfg.electionTimeoutMs,
    maxTxnOps: cfg.maxTxnOps,
    maxRequestBytes: cfg.maxRequestBytes,
    fsync: cfg.unsafeNoFsync ? 'none' : 'fdatasync',
    logLevel,
    logger,
    advertisePeerUrls: cfg.initialAdvertisePeerUrls.map(String),
    advertiseClientUrls: cfg.advertiseClientUrls.map(String),
    join,
    strictReconfigCheck: cfg.strictReconfigCheck,
    onRemoved: () => onRemoved(),
  });

  // One watch hub per member, shared by every listener.
  const hub = new WatchHub(member, { progressNotifyIntervalMs: cfg.experimentalWatchProgressNotifyIntervalMs, fragmentBytes: cfg.maxRequestBytes });
  await hub.ready;
  // One Fastify instance per listen URL (an instance listens once); they share the member.
  const apps: ReturnType<typeof buildGateway>[] = [];
  for (const u of cfg.listenClientUrls) {
    const app = buildGateway({ kv: member, health: () => member.health(), logger, maxRequestBytes: cfg.maxRequestBytes, services: [watchService(hub), leaseService(member.leases), clusterService(member)] });
    const host = u.hostname.replace(/^\[|\]$/g, '');
    await app.listen({ host, port: portOf(u) });
    apps.push(app);
  }
  logger.info({
    name: cfg.name,
    memberId: memberId.toString(16),
    clusterId: member.clusterId.toString(16),
    peers: peers.map((p) => `${p.name}=${p.id.toString(16)}`),
    clientUrls: cfg.listenClientUrls.map(String),
    dataDir: cfg.dataDir,
  }, 'tetcd: serving client requests');

  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'tetcd: second signal, exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'tetcd: stopping');
      void (async () => {
        await Promise.all(apps.map((a) => a.close()));
        hub.close();
        await member.stop();
        stopProfile();
        logger.info('tetcd: stopped');
        resolve(0);
      })();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    onRemoved = () => stop('removed from the cluster');
    let peersBlocked = false;
    process.on('SIGUSR2', () => {
      if (process.env.TETCD_FAILPOINTS !== '1') {
        logger.warn('tetcd: SIGUSR2 ignored (failpoints need TETCD_FAILPOINTS=1)');
        return;
      }
      peersBlocked = !peersBlocked;
      logger.warn({ blocked: peersBlocked }, 'tetcd: failpoint: peer traffic ' + (peersBlocked ? 'blocked' : 'unblocked'));
      member.setPeerTrafficBlocked(peersBlocked);
    });
  });
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`tetcd: fatal: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
