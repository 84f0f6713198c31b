// What each actor of a member is started with, and how a member's identity is derived.
//
// Identity follows etcd's scheme (not its code): a member id is the first 8 bytes of a SHA-1
// over the member's sorted peer URLs and the cluster token, so the same flags always give the same
// id; the cluster id is the first 8 bytes of a SHA-1 over the sorted member ids. Two clusters
// bootstrapped with different tokens therefore never share ids.

import { createHash } from 'node:crypto';
import path from 'node:path';
import type { LogLevel } from './log.js';
import type { NodeId } from '../raft/types.js';

export type FsyncMode = 'fdatasync' | 'fsync' | 'none';

export interface WalInit {
  walDir: string;
  fsync: FsyncMode;
  logLevel: LogLevel;
  /** --name, to tag log lines (optional: older callers and tests leave it out). */
  memberName?: string;
}

export interface RaftInit {
  memberId: NodeId;
  /** --name, to tag log lines. */
  memberName: string;
  /** Voters of a brand-new cluster; ignored when the WAL already holds state. */
  initialVoters: NodeId[];
  electionTick: number;
  heartbeatTick: number;
  tickIntervalMs: number;
  seed: number;
  logLevel: LogLevel;
  /** Needed by the peer transport's handshake (refuses a peer of another cluster). */
  clusterId: NodeId;
  /** --initial-cluster-token; only its hash goes on the wire. */
  clusterToken: string;
  /** --listen-peer-urls; empty for a member that has no peers (a single-member cluster). */
  listenPeerUrls: string[];
  /** The other members and their peer URLs (from --initial-cluster). */
  peers: PeerInit[];
  /** Applied entries between two snapshots (etcd's --snapshot-count). */
  snapshotCount: number;
  /** Entries kept in the log behind a snapshot for slow followers (etcd's SnapshotCatchUpEntries). */
  snapshotCatchUpEntries: number;
  /** --initial-advertise-peer-urls and --advertise-client-urls: what this member publishes. */
  advertisePeerUrls?: string[];
  advertiseClientUrls?: string[];
  /** --initial-cluster-state existing on an empty data dir: join, do not bootstrap voters. */
  join?: boolean;
  /** --strict-reconfig-check (default true): see src/server/membership.ts. */
  strictReconfigCheck?: boolean;
}

export interface PeerInit {
  id: NodeId;
  name: string;
  urls: string[];
}

export interface ApplyInit {
  dbDir: string;
  /** Applied entries between two durable points reported to raft-node for a snapshot. */
  snapshotCount: number;
  memberId: NodeId;
  clusterId: NodeId;
  logLevel: LogLevel;
  /** The lessor's timing (minimum TTL, promote extension, revoke retry): etcd derives them from these. */
  electionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** --name, to tag log lines (optional: older callers and tests leave it out). */
  memberName?: string;
}

function first8BytesBigEndian(digest: Buffer): bigint {
  return digest.readBigUInt64BE(0);
}

export function computeMemberId(peerUrls: readonly string[], clusterToken: string): NodeId {
  const h = createHash('sha1');
  for (const u of [...peerUrls].sort()) h.update(u);
  h.update(clusterToken);
  const id = first8BytesBigEndian(h.digest());
  return id === 0n ? 1n : id;
}

export function computeClusterId(memberIds: readonly NodeId[]): NodeId {
  const h = createHash('sha1');
  const buf = Buffer.alloc(8);
  for (const id of [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    buf.writeBigUInt64BE(id);
    h.update(buf);
  }
  return first8BytesBigEndian(h.digest());
}

/** etcd's on-disk layout: <data-dir>/member/{wal,snap}; our backend lives beside snap. */
export function memberPaths(dataDir: string, walDir?: string): { walDir: string; dbDir: string; snapDir: string } {
  const member = path.join(dataDir, 'member');
  return {
    walDir: walDir ?? path.join(member, 'wal'),
    snapDir: path.join(member, 'snap'),
    dbDir: path.join(member, 'snap', 'db'),
  };
}
