// The peer handshake's decisions, as pure functions. The member that dials sends Hello naming
// itself, the member it expects to reach, its cluster id, its protocol version and the sha256 of
// its --initial-cluster-token; the listener checks it and answers HelloAck (its own Hello) or
// Refuse (a reason). The dialer checks the HelloAck the same way. Every mismatch yields one
// readable sentence (logged on the refusing side with "; refusing" and sent to the other side),
// e.g. "member 2 has cluster id c0ffee, expected 1234; refusing". Ids print as hex, like etcd.
//
// Only the lower member id dials (see transport.ts), so a Hello from a higher id is refused too:
// that keeps the invariant of one connection per pair even when both sides are misconfigured.
//
// Cluster id 0 means "not known yet": a member started with --initial-cluster-state existing on an
// empty data dir takes the cluster id from the running cluster (etcd asks its peers too). Either
// side may say 0; the token must still match, and a member that knows its id refuses any other
// non-zero one. The side that does not know adopts the other's id (clusterIdToAdopt) the first
// time a handshake succeeds, before it answers or sends anything else.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PROTOCOL_VERSION, TOKEN_HASH_BYTES } from './codec.js';
import type { Hello } from './codec.js';
import type { NodeId } from '../raft/types.js';

/** The cluster id a joining member says while it does not know the real one. */
export const UNKNOWN_CLUSTER_ID: NodeId = 0n;

export interface LocalIdentity {
  /** UNKNOWN_CLUSTER_ID until a joining member adopts its peers' id. */
  clusterId: NodeId;
  memberId: NodeId;
  /** sha256 of the cluster token; the token itself never goes on the wire. */
  tokenHash: Uint8Array;
}

export function tokenHashOf(token: string): Uint8Array {
  const h = new Uint8Array(createHash('sha256').update(token, 'utf8').digest());
  assert.equal(h.byteLength, TOKEN_HASH_BYTES);
  return h;
}

export function hex(id: bigint): string {
  return id.toString(16);
}

export function helloOf(local: LocalIdentity, toId: NodeId): Hello {
  assert.notEqual(toId, local.memberId, 'a member never says hello to itself');
  return { version: PROTOCOL_VERSION, clusterId: local.clusterId, fromId: local.memberId, toId, tokenHash: local.tokenHash };
}

function shortHash(h: Uint8Array): string {
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('hex').slice(0, 8);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/** Checks shared by both directions: version, cluster id, token. */
function checkCommon(local: LocalIdentity, h: Hello): string | undefined {
  const who = `member ${hex(h.fromId)}`;
  if (h.version !== PROTOCOL_VERSION) {
    return `${who} speaks peer protocol version ${h.version}, expected ${PROTOCOL_VERSION}`;
  }
  const unknown = h.clusterId === UNKNOWN_CLUSTER_ID || local.clusterId === UNKNOWN_CLUSTER_ID;
  if (!unknown && h.clusterId !== local.clusterId) {
    return `${who} has cluster id ${hex(h.clusterId)}, expected ${hex(local.clusterId)}`;
  }
  if (!sameBytes(h.tokenHash, local.tokenHash)) {
    return `${who} has a different cluster token (sha256 ${shortHash(h.tokenHash)}..., expected ${shortHash(local.tokenHash)}...)`;
  }
  return undefined;
}

/**
 * The id a member that does not know its cluster id takes from a peer's accepted Hello or
 * HelloAck; undefined when it knows its own already, or the peer does not know either.
 */
export function clusterIdToAdopt(local: LocalIdentity, h: Hello): NodeId | undefined {
  if (local.clusterId !== UNKNOWN_CLUSTER_ID || h.clusterId === UNKNOWN_CLUSTER_ID) return undefined;
  assert.equal(checkCommon(local, h), undefined, 'adopt only from an accepted hello');
  return h.clusterId;
}

/** The listener's check of a dialer's Hello; undefined means accept. */
export function checkInboundHello(local: LocalIdentity, h: Hello, isPeer: (id: NodeId) => boolean): string | undefined {
  const common = checkCommon(local, h);
  if (common !== undefined) return common;
  const who = `member ${hex(h.fromId)}`;
  if (h.fromId === local.memberId) return `${who} is this member itself (a dial to self)`;
  if (h.toId !== local.memberId) {
    return `${who} expected member ${hex(h.toId)} at this address, but this is member ${hex(local.memberId)}`;
  }
  if (!isPeer(h.fromId)) return `${who} is not a peer of member ${hex(local.memberId)} (removed, or not added yet)`;
  if (h.fromId > local.memberId) {
    return `${who} dialed member ${hex(local.memberId)}, but only the lower member id dials`;
  }
  return undefined;
}

/** The dialer's check of the listener's HelloAck; undefined means the connection is good. */
export function checkAckHello(local: LocalIdentity, expectedPeer: NodeId, h: Hello): string | undefined {
  const common = checkCommon(local, h);
  if (common !== undefined) return common;
  if (h.fromId !== expectedPeer) {
    return `member ${hex(h.fromId)} answered at the address of member ${hex(expectedPeer)}`;
  }
  if (h.toId !== local.memberId) {
    return `member ${hex(h.fromId)} answered member ${hex(h.toId)}, but this is member ${hex(local.memberId)}`;
  }
  return undefined;
}

/**
 * Reconnect delay: exponential in the attempt number, capped at maxMs, with "equal jitter"
 * (uniform in [base/2, base]) drawn from the injected RNG so that members restarted together do
 * not redial in lockstep. Worked example, initial 100, max 5000: attempt 0 -> [50, 100],
 * attempt 3 -> [400, 800], attempt 9 and later -> [2500, 5000].
 */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number, rng: { intBelow(n: number): number }): number {
  assert.ok(attempt >= 0 && initialMs > 0 && maxMs >= initialMs, 'bad backoff parameters');
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  const half = Math.floor(base / 2);
  const delay = half + rng.intBelow(base - half + 1);
  assert.ok(delay >= half && delay <= maxMs);
  return delay;
}

/** host and port of an http:// peer URL (TLS peer URLs are not supported yet). */
export function parsePeerUrl(raw: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`peer URL ${JSON.stringify(raw)} is not a URL`);
  }
  if (u.protocol === 'https:') throw new Error(`peer URL ${raw}: https (TLS) peer URLs are not supported yet`);
  if (u.protocol !== 'http:') throw new Error(`peer URL ${raw}: scheme must be http`);
  if (u.port === '') throw new Error(`peer URL ${raw}: a port is required`);
  const port = Number(u.port);
  assert.ok(Number.isInteger(port) && port >= 0 && port <= 65535);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port };
}
