// How a lease is stored in the backend (etcd's leasepb.Lease in its "lease" bucket): the
// mvcc-apply worker writes `encodeLease(record)` under its own lease prefix + `encodeLeaseId(id)`
// in the same batch as the grant (or checkpoint) it applies, deletes it in the same batch as a
// revoke's key deletions, and on start hands every decoded record to `Lessor.restore()`.
//
// Only what survives a restart is stored: the id, the granted TTL and the last checkpointed
// remaining TTL. Expiry instants are not stored: they are wall-clock facts of one leader, and a
// restarted member recomputes them in `promote()`. Attached keys are not stored either: the KV
// store knows each key's lease and re-attaches them when it recovers.
//
// Layout, 25 bytes, big-endian: u8 format (1) | i64 id | i64 ttlSec | i64 remainingTtlSec.
// Decoding checks the format byte, the length and the ranges, and throws on anything else.

import assert from 'node:assert/strict';
import { isInt64 } from './lease-id.js';

/** What is persisted per lease. */
export interface LeaseRecord {
  id: bigint;
  /** Granted TTL in seconds, after the minimum TTL rule: in [1, MAX_LEASE_TTL_SEC]. */
  ttlSec: number;
  /** Last checkpointed remaining TTL in seconds; 0 when there is none. */
  remainingTtlSec: number;
}

/** etcd's MaxLeaseTTL. */
export const MAX_LEASE_TTL_SEC = 9_000_000_000;

const FORMAT = 1;
export const LEASE_RECORD_BYTES = 1 + 8 + 8 + 8;

export function assertLeaseRecord(r: LeaseRecord): void {
  assert.ok(r.id !== 0n && isInt64(r.id), `lease id ${r.id}`);
  assert.ok(Number.isSafeInteger(r.ttlSec) && r.ttlSec >= 1 && r.ttlSec <= MAX_LEASE_TTL_SEC, `lease ttl ${r.ttlSec}`);
  assert.ok(Number.isSafeInteger(r.remainingTtlSec) && r.remainingTtlSec >= 0, `lease remaining ttl ${r.remainingTtlSec}`);
}

export function encodeLease(r: LeaseRecord): Uint8Array {
  assertLeaseRecord(r);
  const out = new Uint8Array(LEASE_RECORD_BYTES);
  const v = new DataView(out.buffer);
  v.setUint8(0, FORMAT);
  v.setBigInt64(1, r.id);
  v.setBigInt64(9, BigInt(r.ttlSec));
  v.setBigInt64(17, BigInt(r.remainingTtlSec));
  return out;
}

export function decodeLease(b: Uint8Array): LeaseRecord {
  if (b.length !== LEASE_RECORD_BYTES) throw new Error(`lease record: ${b.length} bytes, want ${LEASE_RECORD_BYTES}`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const format = v.getUint8(0);
  if (format !== FORMAT) throw new Error(`lease record: unknown format ${format}`);
  const id = v.getBigInt64(1);
  const ttl = v.getBigInt64(9);
  const remaining = v.getBigInt64(17);
  if (id === 0n) throw new Error('lease record: id 0');
  if (ttl < 1n || ttl > BigInt(MAX_LEASE_TTL_SEC)) throw new Error(`lease record: ttl ${ttl}`);
  if (remaining < 0n || remaining > BigInt(MAX_LEASE_TTL_SEC)) throw new Error(`lease record: remaining ttl ${remaining}`);
  const r = { id, ttlSec: Number(ttl), remainingTtlSec: Number(remaining) };
  assertLeaseRecord(r);
  return r;
}

/** The 8-byte big-endian form of a lease id, for backend keys. */
export function encodeLeaseId(id: bigint): Uint8Array {
  assert.ok(isInt64(id), `lease id ${id} is not an int64`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, id);
  return out;
}

export function decodeLeaseId(b: Uint8Array): bigint {
  if (b.length !== 8) throw new Error(`lease id: ${b.length} bytes, want 8`);
  return new DataView(b.buffer, b.byteOffset, 8).getBigInt64(0);
}
