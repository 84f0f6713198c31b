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
}

export interface RaftInit {
  memberId: NodeId;
  /** Voters of a brand-new cluster; ignored when the WAL already holds state. */
  initialVoters: NodeId[];
  electionTick: number;
  heartbeatTick: number;
  tickIntervalMs: number;
  seed: number;
  logLevel: LogLevel;
}

export interface ApplyInit {
  dbDir: string;
  memberId: NodeId;
  clusterId: NodeId;
  logLevel: LogLevel;
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
