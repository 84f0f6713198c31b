// The lease codecs: the persisted record (round trip at the edges of every field, and every
// malformed input rejected) and the raft request bodies for LeaseGrant, LeaseRevoke and
// LeaseCheckpoint (round trip, kinds, bounds, malformed bodies rejected).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeLease, decodeLeaseId, encodeLease, encodeLeaseId, LEASE_RECORD_BYTES, MAX_LEASE_TTL_SEC, type LeaseRecord,
} from '../../src/lease/codec.js';
import {
  decodeLeaseBody, encodeLeaseBody, isLeaseKind, LEASE_CHECKPOINTS_PER_REQUEST_MAX, LEASE_KIND_CHECKPOINT,
  LEASE_KIND_GRANT, LEASE_KIND_REVOKE, leaseRequestKind, type LeaseRaftRequest,
} from '../../src/lease/requests.js';

const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

describe('lease record codec', () => {
  it('round-trips records at the edges of every field', () => {
    const records: LeaseRecord[] = [
      { id: 1n, ttlSec: 1, remainingTtlSec: 0 },
      { id: -7n, ttlSec: 10, remainingTtlSec: 3 },
      { id: I64_MAX, ttlSec: MAX_LEASE_TTL_SEC, remainingTtlSec: MAX_LEASE_TTL_SEC },
      { id: I64_MIN, ttlSec: 2, remainingTtlSec: 1 },
    ];
    for (const r of records) {
      const b = encodeLease(r);
      assert.equal(b.length, LEASE_RECORD_BYTES);
      assert.deepEqual(decodeLease(b), r);
      // A view into a larger buffer decodes the same.
      const big = new Uint8Array(b.length + 5);
      big.set(b, 3);
      assert.deepEqual(decodeLease(big.subarray(3, 3 + b.length)), r);
    }
  });

  it('refuses to encode invalid records and to decode malformed bytes', () => {
    assert.throws(() => encodeLease({ id: 0n, ttlSec: 5, remainingTtlSec: 0 }), /lease id/);
    assert.throws(() => encodeLease({ id: 1n, ttlSec: 0, remainingTtlSec: 0 }), /lease ttl/);
    assert.throws(() => encodeLease({ id: 1n, ttlSec: MAX_LEASE_TTL_SEC + 1, remainingTtlSec: 0 }), /lease ttl/);
    assert.throws(() => encodeLease({ id: 1n, ttlSec: 5, remainingTtlSec: -1 }), /remaining/);
    assert.throws(() => encodeLease({ id: 1n << 63n, ttlSec: 5, remainingTtlSec: 0 }), /lease id/);
    const good = encodeLease({ id: 5n, ttlSec: 10, remainingTtlSec: 0 });
    assert.throws(() => decodeLease(good.subarray(1)), /bytes/);
    assert.throws(() => decodeLease(new Uint8Array([...good, 0])), /bytes/);
    const badFormat = good.slice();
    badFormat[0] = 2;
    assert.throws(() => decodeLease(badFormat), /format/);
    const zeroId = good.slice();
    zeroId.fill(0, 1, 9);
    assert.throws(() => decodeLease(zeroId), /id 0/);
    const zeroTtl = good.slice();
    zeroTtl.fill(0, 9, 17);
    assert.throws(() => decodeLease(zeroTtl), /ttl/);
    const negRemaining = good.slice();
    negRemaining.fill(0xff, 17, 25);
    assert.throws(() => decodeLease(negRemaining), /remaining/);
  });

  it('lease ids encode as 8 big-endian bytes', () => {
    assert.deepEqual(encodeLeaseId(0x0102030405060708n), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    for (const id of [1n, -7n, I64_MAX, I64_MIN]) assert.equal(decodeLeaseId(encodeLeaseId(id)), id);
    assert.throws(() => encodeLeaseId(1n << 63n), /int64/);
    assert.throws(() => decodeLeaseId(new Uint8Array(7)), /bytes/);
  });
});

describe('lease raft request bodies', () => {
  const roundTrip = (req: LeaseRaftRequest): LeaseRaftRequest =>
    decodeLeaseBody(leaseRequestKind(req), encodeLeaseBody(req));

  it('round-trip grant, revoke and checkpoint', () => {
    const cases: LeaseRaftRequest[] = [
      { leaseGrant: { TTL: 10, ID: 5n } },
      { leaseGrant: { TTL: -5, ID: -7n } },
      { leaseGrant: { TTL: MAX_LEASE_TTL_SEC + 1, ID: I64_MAX } },
      { leaseGrant: { TTL: 0 } },
      { leaseRevoke: { ID: I64_MIN } },
      { leaseRevoke: { ID: 1n } },
      { leaseCheckpoint: { checkpoints: [] } },
      { leaseCheckpoint: { checkpoints: [{ ID: 3n, remainingTTL: 0 }, { ID: -3n, remainingTTL: 240 }] } },
      {
        leaseCheckpoint: {
          checkpoints: Array.from({ length: LEASE_CHECKPOINTS_PER_REQUEST_MAX }, (_, i) => ({ ID: BigInt(i + 1), remainingTTL: i })),
        },
      },
    ];
    for (const c of cases) assert.deepEqual(roundTrip(c), c);
  });

  it('uses the reserved kinds 16..31 and rejects other kinds', () => {
    assert.equal(leaseRequestKind({ leaseGrant: { TTL: 1 } }), LEASE_KIND_GRANT);
    assert.equal(leaseRequestKind({ leaseRevoke: { ID: 1n } }), LEASE_KIND_REVOKE);
    assert.equal(leaseRequestKind({ leaseCheckpoint: { checkpoints: [] } }), LEASE_KIND_CHECKPOINT);
    for (const kind of [LEASE_KIND_GRANT, LEASE_KIND_REVOKE, LEASE_KIND_CHECKPOINT]) {
      assert.ok(kind >= 16 && kind <= 31 && isLeaseKind(kind));
    }
    assert.equal(isLeaseKind(1), false);
    assert.equal(isLeaseKind(19), false);
    assert.throws(() => decodeLeaseBody(19, new Uint8Array(8)), /unknown kind/);
  });

  it('rejects short, long and out-of-bound bodies', () => {
    const grant = encodeLeaseBody({ leaseGrant: { TTL: 10, ID: 5n } });
    assert.throws(() => decodeLeaseBody(LEASE_KIND_GRANT, grant.subarray(0, 15)), /bytes/);
    assert.throws(() => decodeLeaseBody(LEASE_KIND_GRANT, new Uint8Array([...grant, 0])), /bytes/);
    assert.throws(() => decodeLeaseBody(LEASE_KIND_REVOKE, new Uint8Array(9)), /bytes/);
    const unsafeTtl = grant.slice();
    unsafeTtl.fill(0x7f, 8, 16);
    assert.throws(() => decodeLeaseBody(LEASE_KIND_GRANT, unsafeTtl), /TTL .* out of range/);
    assert.throws(() => decodeLeaseBody(LEASE_KIND_CHECKPOINT, new Uint8Array(3)), /too short/);
    const tooMany = new Uint8Array(4);
    new DataView(tooMany.buffer).setUint32(0, LEASE_CHECKPOINTS_PER_REQUEST_MAX + 1);
    assert.throws(() => decodeLeaseBody(LEASE_KIND_CHECKPOINT, tooMany), /checkpoints/);
    const one = encodeLeaseBody({ leaseCheckpoint: { checkpoints: [{ ID: 1n, remainingTTL: 1 }] } });
    assert.throws(() => decodeLeaseBody(LEASE_KIND_CHECKPOINT, one.subarray(0, one.length - 1)), /bytes/);
    const negative = one.slice();
    negative.fill(0xff, 12, 20);
    assert.throws(() => decodeLeaseBody(LEASE_KIND_CHECKPOINT, negative), /negative remainingTTL/);
    const over = { leaseCheckpoint: { checkpoints: Array.from({ length: LEASE_CHECKPOINTS_PER_REQUEST_MAX + 1 }, () => ({ ID: 1n, remainingTTL: 1 })) } };
    assert.throws(() => encodeLeaseBody(over), /checkpoints in one request/);
    assert.throws(() => encodeLeaseBody({ leaseGrant: { TTL: 1.5 } }), /safe integer/);
  });
});

describe('lease requests in raft entries (src/mvcc/request-codec.ts kinds 16..18)', () => {
  it('round-trip through the entry codec with their request id', async () => {
    const { decodeRaftRequest, encodeRaftRequest } = await import('../../src/mvcc/request-codec.js');
    const reqs = [
      { id: 1n, leaseGrant: { TTL: 60, ID: 7n } },
      { id: 2n, leaseGrant: { TTL: -5, ID: -(1n << 63n) } },
      { id: 3n, leaseRevoke: { ID: (1n << 63n) - 1n } },
      { id: 4n, leaseCheckpoint: { checkpoints: [{ ID: 1n, remainingTTL: 0 }, { ID: -2n, remainingTTL: 30 }] } },
    ];
    for (const r of reqs) {
      const bytes = encodeRaftRequest(r);
      assert.equal(bytes[1], 'leaseGrant' in r ? 16 : 'leaseRevoke' in r ? 17 : 18);
      assert.deepEqual(decodeRaftRequest(bytes), r);
      assert.throws(() => decodeRaftRequest(bytes.subarray(0, bytes.length - 1)));
      assert.throws(() => decodeRaftRequest(Uint8Array.from([...bytes, 0])));
    }
    const unknown = encodeRaftRequest({ id: 5n, leaseRevoke: { ID: 1n } });
    unknown[1] = 19;
    assert.throws(() => decodeRaftRequest(unknown), /unknown kind 19/);
  });
});
