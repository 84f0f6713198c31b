// The lease requests that go into the raft log (etcd's InternalRaftRequest fields LeaseGrant,
// LeaseRevoke, LeaseCheckpoint) and the binary codec of their bodies.
//
// Every member decodes the same bytes and applies the same request, so the codec is
// deterministic and lossless. It encodes only the BODY: src/mvcc/request-codec.ts owns the entry
// header (format, kind, request id) and reserves kinds 16..31 for leases; it writes
// `leaseRequestKind(req)` as the kind and appends `encodeLeaseBody(req)`, and on decode hands the
// rest of the entry to `decodeLeaseBody(kind, rest)`. The body runs to the end of the entry, so
// it has no length prefix; decoding rejects short bodies, trailing bytes and unknown kinds.
//
// Bodies (big-endian, fixed width; lease ids and TTLs are int64 as in etcd's proto):
//   grant (16):      i64 ID (0 = none, never proposed by a correct server) | i64 TTL
//   revoke (17):     i64 ID
//   checkpoint (18): u32 count (<= LEASE_CHECKPOINTS_PER_REQUEST_MAX) | count x (i64 ID | i64 remainingTTL)
// A client may ask for a negative TTL (raised to the minimum at apply) so TTL is signed; a TTL is
// always a safe integer here (the gateway rejects more than 9e9 before proposing, and the lessor
// rejects it again at apply).

import assert from 'node:assert/strict';
import type { LeaseGrantRequest, LeaseRevokeRequest } from '../api/types.js';

/** One lease's remaining TTL as the leader last saw it (etcd's LeaseCheckpoint). */
export interface LeaseCheckpoint {
  ID: bigint;
  /** Seconds; 0 clears the checkpoint (the lease then counts from its granted TTL again). */
  remainingTTL: number;
}

export interface LeaseCheckpointRequest {
  checkpoints: LeaseCheckpoint[];
}

export type LeaseRaftRequest =
  | { leaseGrant: LeaseGrantRequest }
  | { leaseRevoke: LeaseRevokeRequest }
  | { leaseCheckpoint: LeaseCheckpointRequest };

export const LEASE_KIND_GRANT = 16;
export const LEASE_KIND_REVOKE = 17;
export const LEASE_KIND_CHECKPOINT = 18;

/** etcd's maxLeaseCheckpointBatchSize: checkpoints in one raft entry. */
export const LEASE_CHECKPOINTS_PER_REQUEST_MAX = 1000;

const I64_BYTES = 8;
const U32_BYTES = 4;

export function isLeaseKind(kind: number): boolean {
  return kind === LEASE_KIND_GRANT || kind === LEASE_KIND_REVOKE || kind === LEASE_KIND_CHECKPOINT;
}

export function leaseRequestKind(req: LeaseRaftRequest): number {
  if ('leaseGrant' in req) return LEASE_KIND_GRANT;
  if ('leaseRevoke' in req) return LEASE_KIND_REVOKE;
  if ('leaseCheckpoint' in req) return LEASE_KIND_CHECKPOINT;
  assert.fail('unknown lease raft request');
}

function i64OfNumber(n: number, what: string): bigint {
  assert.ok(Number.isSafeInteger(n), `${what} ${n} is not a safe integer`);
  return BigInt(n);
}

function numberOfI64(v: bigint, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`lease request: ${what} ${v} out of range`);
  return n;
}

export function encodeLeaseBody(req: LeaseRaftRequest): Uint8Array {
  if ('leaseGrant' in req) {
    const out = new Uint8Array(2 * I64_BYTES);
    const v = new DataView(out.buffer);
    v.setBigInt64(0, req.leaseGrant.ID ?? 0n);
    v.setBigInt64(I64_BYTES, i64OfNumber(req.leaseGrant.TTL, 'TTL'));
    return out;
  }
  if ('leaseRevoke' in req) {
    const out = new Uint8Array(I64_BYTES);
    new DataView(out.buffer).setBigInt64(0, req.leaseRevoke.ID);
    return out;
  }
  const cps = req.leaseCheckpoint.checkpoints;
  assert.ok(cps.length <= LEASE_CHECKPOINTS_PER_REQUEST_MAX, `${cps.length} checkpoints in one request`);
  const out = new Uint8Array(U32_BYTES + cps.length * 2 * I64_BYTES);
  const v = new DataView(out.buffer);
  v.setUint32(0, cps.length);
  let at = U32_BYTES;
  for (const cp of cps) {
    assert.ok(cp.remainingTTL >= 0, `checkpoint remainingTTL ${cp.remainingTTL}`);
    v.setBigInt64(at, cp.ID);
    v.setBigInt64(at + I64_BYTES, i64OfNumber(cp.remainingTTL, 'remainingTTL'));
    at += 2 * I64_BYTES;
  }
  assert.equal(at, out.length);
  return out;
}

function expectLength(body: Uint8Array, n: number, what: string): DataView {
  if (body.length !== n) throw new Error(`lease request: ${what} body is ${body.length} bytes, want ${n}`);
  return new DataView(body.buffer, body.byteOffset, body.byteLength);
}

function decodeCheckpoints(body: Uint8Array): LeaseCheckpointRequest {
  if (body.length < U32_BYTES) throw new Error('lease request: checkpoint body too short');
  const count = new DataView(body.buffer, body.byteOffset, U32_BYTES).getUint32(0);
  if (count > LEASE_CHECKPOINTS_PER_REQUEST_MAX) throw new Error(`lease request: ${count} checkpoints`);
  const v = expectLength(body, U32_BYTES + count * 2 * I64_BYTES, 'checkpoint');
  const checkpoints: LeaseCheckpoint[] = [];
  for (let i = 0, at = U32_BYTES; i < count; i++, at += 2 * I64_BYTES) {
    const remainingTTL = numberOfI64(v.getBigInt64(at + I64_BYTES), 'remainingTTL');
    if (remainingTTL < 0) throw new Error(`lease request: negative remainingTTL ${remainingTTL}`);
    checkpoints.push({ ID: v.getBigInt64(at), remainingTTL });
  }
  assert.equal(checkpoints.length, count);
  return { checkpoints };
}

/** Decodes a body written by `encodeLeaseBody` for `kind`; throws on anything malformed. */
export function decodeLeaseBody(kind: number, body: Uint8Array): LeaseRaftRequest {
  switch (kind) {
    case LEASE_KIND_GRANT: {
      const v = expectLength(body, 2 * I64_BYTES, 'grant');
      const ID = v.getBigInt64(0);
      const TTL = numberOfI64(v.getBigInt64(I64_BYTES), 'TTL');
      return { leaseGrant: ID === 0n ? { TTL } : { TTL, ID } };
    }
    case LEASE_KIND_REVOKE:
      return { leaseRevoke: { ID: expectLength(body, I64_BYTES, 'revoke').getBigInt64(0) } };
    case LEASE_KIND_CHECKPOINT:
      return { leaseCheckpoint: decodeCheckpoints(body) };
    default:
      throw new Error(`lease request: unknown kind ${kind}`);
  }
}
