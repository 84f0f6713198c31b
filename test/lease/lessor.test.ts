// The lessor's rules, one etcd behaviour per test: the minimum TTL and the TTL bound, grant
// errors and their order, ids chosen from an injected RNG, revoke returning keys in byte order,
// attach moving keys between leases, renew on leader/follower and of an expired (revoking)
// lease, the revoke retry delay, timetolive, promote extending clocks (and spreading pile-ups),
// demote, checkpoints, restore, and a randomized comparison with a naive scanning model.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EtcdError, ERRORS, type ErrorName } from '../../src/api/errors.js';
import {
  expiredLeaseRetryMs, LEASE_REVOKE_RATE_PER_SEC, lessorConfig, Lessor, MAX_LEASE_TTL_SEC, minLeaseTtlSec,
  PROMOTE_EXPIRIES_PER_SEC_MAX, type LessorConfig,
} from '../../src/lease/lessor.js';
import { spreadExpiries } from '../../src/lease/spread.js';
import { SeededRng } from '../../src/raft/rng.js';

const te = new TextEncoder();
const k = (s: string): Uint8Array => te.encode(s);
const str = (keys: Uint8Array[]): string[] => keys.map((b) => Buffer.from(b).toString('latin1'));

const RETRY_MS = 7000;
const CONFIG: LessorConfig = { minTtlSec: 2, revokeRetryMs: RETRY_MS, checkpointIntervalMs: 0 };

function leader(config: LessorConfig = CONFIG, nowMs = 0): Lessor {
  const le = new Lessor(config);
  le.promote(0, nowMs);
  return le;
}

function throwsEtcd(fn: () => unknown, name: ErrorName): void {
  assert.throws(fn, (e: unknown) => e instanceof EtcdError && e.message === ERRORS[name].message && e.grpc === ERRORS[name].grpc);
}

describe('lessor configuration (etcd 3.4 rules)', () => {
  it('minimum TTL is ceil(floor(3 * electionTicks / 2) * heartbeat) seconds', () => {
    assert.equal(minLeaseTtlSec(1000, 100), 2); // etcd defaults: 1.5 s -> 2 s
    assert.equal(minLeaseTtlSec(5000, 500), 8); // 10 ticks -> 15 * 500 ms = 7.5 s
    assert.equal(minLeaseTtlSec(1000, 300), 2); // 3 ticks -> 4 * 300 ms = 1.2 s
    assert.equal(minLeaseTtlSec(100, 10), 1); // 150 ms -> 1 s
    assert.equal(minLeaseTtlSec(10000, 1000), 15);
  });

  it('expired-lease retry interval is the request timeout, 5 s + 2 election timeouts', () => {
    assert.equal(expiredLeaseRetryMs(1000, 100), 7000);
    assert.equal(expiredLeaseRetryMs(5000, 500), 15000);
    assert.deepEqual(lessorConfig({ electionTimeoutMs: 1000, heartbeatMs: 100 }),
      { minTtlSec: 2, revokeRetryMs: 7000, checkpointIntervalMs: 0 });
  });
});

describe('grant', () => {
  it('raises a TTL below the minimum, keeps the maximum, rejects above it', () => {
    const le = leader();
    assert.equal(le.grant(1n, 1, 0).ttlSec, 2);
    assert.equal(le.grant(2n, 0, 0).ttlSec, 2);
    assert.equal(le.grant(3n, -5, 0).ttlSec, 2);
    assert.equal(le.grant(4n, 3, 0).ttlSec, 3);
    assert.equal(le.grant(5n, MAX_LEASE_TTL_SEC, 0).ttlSec, 9_000_000_000);
    throwsEtcd(() => le.grant(6n, MAX_LEASE_TTL_SEC + 1, 0), 'LeaseTTLTooLarge');
    assert.equal(le.exists(6n), false);
    assert.deepEqual(le.record(1n), { id: 1n, ttlSec: 2, remainingTtlSec: 0 });
  });

  it('rejects a duplicate id, id 0, and checks the TTL bound first (as etcd does)', () => {
    const le = leader();
    le.grant(5n, 10, 0);
    throwsEtcd(() => le.grant(5n, 20, 0), 'LeaseExist');
    throwsEtcd(() => le.grant(5n, MAX_LEASE_TTL_SEC + 1, 0), 'LeaseTTLTooLarge');
    throwsEtcd(() => le.grant(0n, 10, 0), 'LeaseNotFound');
    assert.equal(le.lookup(5n)?.ttlSec, 10, 'the duplicate did not replace the lease');
    le.grant(-7n, 10, 0); // clients may choose negative ids
    assert.equal(le.exists(-7n), true);
  });

  it('chooses positive, non-zero, unused ids from the injected rng, deterministically', () => {
    const a = new Lessor(CONFIG);
    const b = new Lessor(CONFIG);
    const ra = new SeededRng(42);
    const rb = new SeededRng(42);
    for (let i = 0; i < 100; i++) {
      const id = a.chooseId(ra);
      assert.ok(id > 0n && id < 1n << 63n);
      assert.equal(id, b.chooseId(rb));
      a.grant(id, 10, 0);
    }
    // An rng that repeats its first draw: the second choice must skip the id already held.
    const seq = [1, 2, 1, 2, 3, 4];
    const fake = { nextU32: (): number => seq.shift()! };
    const c = new Lessor(CONFIG);
    const first = c.chooseId(fake);
    assert.equal(first, (1n << 32n) | 2n);
    c.grant(first, 10, 0);
    assert.equal(c.chooseId(fake), (3n << 32n) | 4n);
  });
});

describe('revoke, attach, detach', () => {
  it('revoke returns the attached keys in byte order and forgets them', () => {
    const le = leader();
    le.grant(1n, 10, 0);
    for (const key of ['b', 'a', 'c\u00ff', 'c', '\u0000z']) le.attach(1n, new Uint8Array(Buffer.from(key, 'latin1')));
    assert.deepEqual(str(le.revoke(1n)), ['\u0000z', 'a', 'b', 'c', 'c\u00ff']);
    assert.equal(le.exists(1n), false);
    assert.equal(le.leaseOf(k('a')), 0n);
    throwsEtcd(() => le.revoke(1n), 'LeaseNotFound');
    assert.equal(le.detach(1n, k('a')), false, 'detach after revoke is a no-op');
    le.assertConsistent();
  });

  it('attach to an unknown lease fails; a put moving a key detaches it from the old lease', () => {
    const le = leader();
    le.grant(1n, 10, 0);
    le.grant(2n, 10, 0);
    throwsEtcd(() => le.attach(3n, k('x')), 'LeaseNotFound');
    le.attach(1n, k('x'));
    le.attach(1n, k('x')); // idempotent
    le.attach(1n, k('y'));
    assert.equal(le.leaseOf(k('x')), 1n);
    le.attach(2n, k('x'));
    assert.equal(le.leaseOf(k('x')), 2n);
    assert.deepEqual(str(le.timeToLive(1n, 0, true).keys), ['y']);
    assert.deepEqual(str(le.timeToLive(2n, 0, true).keys), ['x']);
    assert.equal(le.detach(1n, k('x')), false, 'x is no longer on lease 1');
    assert.equal(le.detach(2n, k('x')), true);
    assert.equal(le.leaseOf(k('x')), 0n);
    assert.deepEqual(str(le.revoke(2n)), []);
    assert.deepEqual(str(le.revoke(1n)), ['y']);
    le.assertConsistent();
  });
});

describe('renew and expiry', () => {
  it('renew is leader-only, fails for unknown leases, and restarts the clock', () => {
    const follower = new Lessor(CONFIG);
    follower.grant(1n, 10, 0);
    throwsEtcd(() => follower.renew(1n, 0), 'NotLeader');
    const le = leader();
    le.grant(1n, 10, 0);
    throwsEtcd(() => le.renew(9n, 0), 'LeaseNotFound');
    assert.deepEqual(le.renew(1n, 6000), { kind: 'renewed', ttlSec: 10, proposeCheckpointReset: false });
    assert.deepEqual(le.expired(15_999), []);
    assert.deepEqual(le.expired(16_000), [1n]);
  });

  it('an expired lease is handed out once, then again only after the retry delay', () => {
    const le = leader();
    le.grant(1n, 10, 0);
    le.grant(2n, 20, 0);
    assert.deepEqual(le.expired(9_999), []);
    assert.deepEqual(le.expired(10_000), [1n]);
    assert.equal(le.lookup(1n)?.revoking, true);
    assert.deepEqual(le.expired(10_000 + RETRY_MS - 1), []);
    assert.deepEqual(le.expired(10_000 + RETRY_MS), [1n], 'the revoke never landed: retried');
    le.revoke(1n);
    assert.deepEqual(le.expired(10_000 + 10 * RETRY_MS), [2n], 'a revoked lease never comes back');
    le.assertConsistent();
  });

  it('renewing a revoking (expired) lease does not revive it; the revoke then makes it not found', () => {
    const le = leader();
    le.grant(1n, 10, 0);
    le.grant(2n, 10, 0);
    assert.deepEqual(le.expired(10_500), [1n, 2n]);
    assert.deepEqual(le.renew(1n, 10_600), { kind: 'expired' });
    assert.equal(le.lookup(1n)?.revoking, true);
    assert.deepEqual(le.expired(10_600 + RETRY_MS), [1n, 2n], 'renew did not cancel the pending revoke');
    le.revoke(1n);
    throwsEtcd(() => le.renew(1n, 20_000), 'LeaseNotFound');
    // Expired by time but not yet handed out: also refused.
    le.grant(3n, 10, 20_000);
    assert.deepEqual(le.renew(3n, 30_000), { kind: 'expired' });
    // A leader change restarts clocks: the lease is renewable again on the new leader.
    le.demote();
    le.promote(1000, 40_000);
    assert.equal(le.lookup(2n)?.revoking, false);
    assert.equal(le.renew(2n, 40_000).kind, 'renewed');
    le.assertConsistent();
  });

  it('expired() hands out leases earliest first, in bounded batches', () => {
    const le = leader();
    for (let i = 1; i <= 25; i++) le.grant(BigInt(i), 100 - i, 0); // lease 25 expires first
    const got: bigint[] = [];
    for (;;) {
      const batch = le.expired(1_000_000, 10);
      assert.ok(batch.length <= 10);
      if (batch.length === 0) break;
      got.push(...batch);
    }
    assert.deepEqual(got, Array.from({ length: 25 }, (_, i) => BigInt(25 - i)));
    assert.throws(() => le.expired(0, 0), /maxBatch/);
  });

  it('a follower never expires anything', () => {
    const le = new Lessor(CONFIG);
    le.grant(1n, 2, 0);
    assert.deepEqual(le.expired(1e12), []);
    assert.equal(le.lookup(1n)?.expiryMs, Infinity);
    assert.equal(le.stats().expiryHeapSize, 0);
    le.assertConsistent();
  });
});

describe('timeToLive and leases', () => {
  it('reports remaining TTL truncated to seconds, granted TTL and sorted keys', () => {
    const le = leader();
    le.grant(5n, 10, 1000);
    le.attach(5n, k('b'));
    le.attach(5n, k('a'));
    const t = le.timeToLive(5n, 1001, true);
    assert.equal(t.ID, 5n);
    assert.equal(t.TTL, 9);
    assert.equal(t.grantedTTL, 10);
    assert.deepEqual(str(t.keys), ['a', 'b']);
    assert.deepEqual(le.timeToLive(5n, 1000, false), { ID: 5n, TTL: 10, grantedTTL: 10, keys: [] });
    assert.equal(le.timeToLive(5n, 10_800, false).TTL, 0);
    assert.ok(!Object.is(le.timeToLive(5n, 11_500, false).TTL, -0));
    throwsEtcd(() => le.timeToLive(6n, 0, false), 'LeaseNotFound');
    const f = new Lessor(CONFIG);
    f.grant(5n, 10, 0);
    assert.equal(f.timeToLive(5n, 99_999, false).TTL, 10, 'a follower answers its last known TTL');
  });

  it('leases() lists every lease, soonest expiry first', () => {
    const le = leader();
    le.grant(1n, 30, 0);
    le.grant(2n, 10, 0);
    le.grant(3n, 20, 0);
    le.grant(4n, 10, 0);
    assert.deepEqual(le.leases(), [2n, 4n, 3n, 1n]);
    le.revoke(3n);
    assert.deepEqual(le.leases(), [2n, 4n, 1n]);
  });
});

describe('promote and demote', () => {
  it('promote restarts every clock from the remaining TTL plus the extension', () => {
    const le = new Lessor(CONFIG); // a restarted member: leases restored, no clocks
    le.restore([
      { id: 1n, ttlSec: 10, remainingTtlSec: 0 },
      { id: 2n, ttlSec: 600, remainingTtlSec: 30 },
    ]);
    le.attach(1n, k('a'));
    le.promote(1000, 50_000);
    assert.equal(le.lookup(1n)?.expiryMs, 61_000);
    assert.equal(le.lookup(2n)?.expiryMs, 81_000, 'the checkpointed remaining TTL is used');
    assert.deepEqual(le.expired(60_999), []);
    assert.deepEqual(le.expired(61_000), [1n]);
    le.assertConsistent();
  });

  it('a leader change does not expire a lease that was kept alive', () => {
    const a = leader();
    a.grant(1n, 10, 0);
    assert.equal(a.renew(1n, 8000).kind, 'renewed');
    a.demote(); // leader lost at 9 s; the new leader promotes much later
    assert.deepEqual(a.expired(1e9), []);
    throwsEtcd(() => a.renew(1n, 9000), 'NotLeader');
    a.promote(1000, 25_000);
    assert.deepEqual(a.expired(35_999), [], 'not expired before ttl + extension from promote');
    assert.deepEqual(a.expired(36_000), [1n]);
  });

  it('promote clears the revoking state and restarts the clock', () => {
    const le = leader();
    le.grant(1n, 10, 0);
    assert.deepEqual(le.expired(10_000), [1n]);
    le.promote(0, 20_000);
    assert.equal(le.lookup(1n)?.revoking, false);
    assert.deepEqual(le.expired(29_999), []);
    assert.deepEqual(le.expired(30_000), [1n]);
  });

  it('promote spreads a pile-up: at most 3/4 of the revoke rate per second, never earlier', () => {
    const n = 10 * LEASE_REVOKE_RATE_PER_SEC;
    const le = new Lessor(CONFIG);
    le.restore(Array.from({ length: n }, (_, i) => ({ id: BigInt(i + 1), ttlSec: 10 + (i % 2), remainingTtlSec: 0 })));
    le.promote(1000, 0);
    const perWindow = new Map<number, number>();
    let earliest = Infinity;
    let latest = 0;
    for (let i = 1; i <= n; i++) {
      const e = le.lookup(BigInt(i))!.expiryMs;
      assert.ok(e >= 1000 + (10 + ((i - 1) % 2)) * 1000, 'no lease expires earlier than its TTL + extension');
      earliest = Math.min(earliest, e);
      latest = Math.max(latest, e);
      perWindow.set(Math.floor((e - 11_000) / 1000), (perWindow.get(Math.floor((e - 11_000) / 1000)) ?? 0) + 1);
    }
    assert.equal(earliest, 11_000);
    for (const c of perWindow.values()) assert.ok(c <= PROMOTE_EXPIRIES_PER_SEC_MAX, `${c} expiries in one second`);
    assert.ok(latest < 11_000 + Math.ceil(n / PROMOTE_EXPIRIES_PER_SEC_MAX) * 1000, 'spread no wider than needed');
    // Below one second's worth of revocations nothing is spread.
    const small = new Lessor(CONFIG);
    small.restore(Array.from({ length: 100 }, (_, i) => ({ id: BigInt(i + 1), ttlSec: 10, remainingTtlSec: 0 })));
    small.promote(1000, 0);
    for (let i = 1; i <= 100; i++) assert.equal(small.lookup(BigInt(i))!.expiryMs, 11_000);
  });

  it('spreadExpiries follows its worked example', () => {
    assert.deepEqual(spreadExpiries([0, 0, 0, 100, 2500], 2), [0, 0, 1000, 1000, 2500]);
    assert.deepEqual(spreadExpiries([5, 5, 5, 5, 5], 2), [5, 5, 1005, 1005, 2005]);
    assert.throws(() => spreadExpiries([2, 1], 2), /ascending/);
  });

  it('restore refuses to run on a primary lessor', () => {
    const le = leader();
    assert.throws(() => le.restore([]), /restore on a primary/);
  });
});

describe('checkpoints', () => {
  const CK: LessorConfig = { ...CONFIG, checkpointIntervalMs: 60_000 };

  it('the leader checkpoints long leases once per interval, rescheduled when applied', () => {
    const le = leader(CK);
    le.grant(1n, 300, 0);
    le.grant(2n, 30, 0); // shorter than the interval: never checkpointed
    assert.deepEqual(le.dueCheckpoints(59_999), []);
    assert.deepEqual(le.dueCheckpoints(60_000), [{ ID: 1n, remainingTTL: 240 }]);
    assert.deepEqual(le.dueCheckpoints(200_000), [], 'not again until the checkpoint is applied');
    assert.deepEqual(le.checkpoint(1n, 240, 60_500), { id: 1n, ttlSec: 300, remainingTtlSec: 240 });
    assert.deepEqual(le.dueCheckpoints(120_499), []);
    assert.deepEqual(le.dueCheckpoints(120_500), [{ ID: 1n, remainingTTL: 180 }]);
    assert.equal(le.checkpoint(99n, 10, 0), undefined, 'unknown leases are ignored');
  });

  it('a renew clears the checkpoint and asks for the reset to be proposed', () => {
    const le = leader(CK);
    le.grant(1n, 300, 0);
    le.checkpoint(1n, 240, 60_000);
    assert.deepEqual(le.renew(1n, 61_000), { kind: 'renewed', ttlSec: 300, proposeCheckpointReset: true });
    assert.equal(le.record(1n)?.remainingTtlSec, 0);
    assert.deepEqual(le.renew(1n, 62_000), { kind: 'renewed', ttlSec: 300, proposeCheckpointReset: false });
    // Checkpointing off: no reset is ever asked for.
    const off = leader();
    off.grant(1n, 300, 0);
    off.checkpoint(1n, 240, 60_000);
    assert.deepEqual(off.renew(1n, 61_000), { kind: 'renewed', ttlSec: 300, proposeCheckpointReset: false });
    assert.deepEqual(off.dueCheckpoints(1e9), []);
  });

  it('a follower applies checkpoints and a new leader starts from them', () => {
    const f = new Lessor(CK);
    f.grant(1n, 300, 0);
    assert.deepEqual(f.dueCheckpoints(1e9), [], 'followers never propose checkpoints');
    f.checkpoint(1n, 42, 100_000);
    f.promote(1000, 200_000);
    assert.equal(f.lookup(1n)?.expiryMs, 200_000 + 1000 + 42_000);
  });
});

describe('randomized against a scanning model', () => {
  it('expired() hands out exactly the leases a full scan finds, for 20 seeds', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new SeededRng(seed);
      const le = leader();
      // model: id -> the instant it is due to be handed out (expiry, or retry after hand-out)
      const due = new Map<bigint, number>();
      let now = 0;
      for (let step = 0; step < 2000; step++) {
        const op = rng.intBelow(10);
        const id = BigInt(1 + rng.intBelow(60));
        now += rng.intBelow(700);
        if (op < 3 && !due.has(id)) {
          le.grant(id, 2 + rng.intBelow(20), now);
          due.set(id, now + le.lookup(id)!.ttlSec * 1000);
        } else if (op < 5 && due.has(id)) {
          const r = le.renew(id, now);
          if (le.lookup(id)!.expiryMs <= now) assert.equal(r.kind, 'expired');
          else assert.equal(r.kind, 'renewed');
          if (r.kind === 'renewed') due.set(id, now + r.ttlSec * 1000);
        } else if (op < 6 && due.has(id)) {
          le.revoke(id);
          due.delete(id);
        } else {
          const got = le.expired(now, 1000);
          const want = [...due].filter(([, t]) => t <= now).map(([i]) => i);
          assert.deepEqual([...got].sort(), want.sort(), `seed ${seed} step ${step}`);
          for (const i of got) due.set(i, now + RETRY_MS);
        }
      }
      le.assertConsistent();
    }
  });
});
