// The expiry machinery at scale, checked by counting heap operations (never by timing): the
// heap's order, 100,000 idle leases costing zero heap work per check, expiries handed out in
// expiry order and in bounded batches, a burst drained 500 at a time, renews costing no heap
// work, a re-arm burst sliced into bounded calls, and dead entries compacted away.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EXPIRED_POPS_PER_CALL_MAX, LEASE_REVOKE_BATCH_MAX, LEASE_REVOKE_INTERVAL_MS, Lessor, type LessorConfig,
} from '../../src/lease/lessor.js';
import { TimeHeap, type HeapEntry } from '../../src/lease/time-heap.js';
import { SeededRng } from '../../src/raft/rng.js';

const N = 100_000;
const CONFIG: LessorConfig = { minTtlSec: 2, revokeRetryMs: 7000, checkpointIntervalMs: 0 };

function leaderWith(ttlOf: (i: number) => number): Lessor {
  const le = new Lessor(CONFIG);
  le.promote(0, 0);
  for (let i = 1; i <= N; i++) le.grant(BigInt(i), ttlOf(i), 0);
  return le;
}

describe('TimeHeap', () => {
  it('pops in (dueMs, gen) order and compacts to the live entries', () => {
    const rng = new SeededRng(7);
    const h = new TimeHeap();
    const all: HeapEntry[] = [];
    for (let gen = 1; gen <= 5000; gen++) {
      const e = { dueMs: rng.intBelow(1000), gen, id: BigInt(gen % 97) };
      all.push(e);
      h.push(e);
    }
    h.compact((e) => e.gen % 3 !== 0);
    const want = all.filter((e) => e.gen % 3 !== 0).sort((a, b) => a.dueMs - b.dueMs || a.gen - b.gen);
    const got: HeapEntry[] = [];
    for (let e = h.pop(); e !== undefined; e = h.pop()) got.push(e);
    assert.deepEqual(got, want);
    assert.equal(h.pushes, 5000);
    assert.equal(h.pops, want.length);
    assert.equal(h.peek(), undefined);
  });
});

describe('100,000 leases', () => {
  it('idle leases cost no heap work per check, whatever the number of checks', () => {
    const le = leaderWith(() => 60);
    const before = le.stats();
    assert.equal(before.expiryHeapSize, N);
    for (let t = 0; t < 60_000; t += LEASE_REVOKE_INTERVAL_MS) assert.deepEqual(le.expired(t), []);
    const after = le.stats();
    assert.equal(after.expiryHeapPops, before.expiryHeapPops, 'no pops while nothing is due');
    assert.equal(after.expiryHeapSiftSteps, before.expiryHeapSiftSteps, 'no heap movement while nothing is due');
    assert.equal(after.expiryHeapPushes, before.expiryHeapPushes);
  });

  it('hands out each lease once, in expiry order, at the first check after it expires', () => {
    const rng = new SeededRng(11);
    const ttl = new Map<bigint, number>();
    const le = leaderWith((i) => { const t = 60 + rng.intBelow(3600); ttl.set(BigInt(i), t); return t; });
    const popsBefore = le.stats().expiryHeapPops;
    let prevExpiry = 0;
    let handed = 0;
    for (let t = 0; t <= 3700_000; t += LEASE_REVOKE_INTERVAL_MS) {
      const batch = le.expired(t);
      assert.ok(batch.length <= LEASE_REVOKE_BATCH_MAX);
      for (const id of batch) {
        const expiry = ttl.get(id)! * 1000;
        assert.ok(expiry <= t && expiry > t - LEASE_REVOKE_INTERVAL_MS, `lease ${id} handed out late`);
        assert.ok(expiry >= prevExpiry, 'out of expiry order');
        prevExpiry = expiry;
        le.revoke(id); // the caller's revocation applies before the next check
        handed++;
      }
    }
    assert.equal(handed, N);
    // One pop when it expires, one when its revoke-retry entry surfaces dead: no scan.
    assert.equal(le.stats().expiryHeapPops - popsBefore, 2 * N);
    assert.equal(le.stats().leaseCount, 0);
  });

  it('a burst of simultaneous expiries is handed out in batches of LEASE_REVOKE_BATCH_MAX', () => {
    const le = leaderWith(() => 10);
    assert.deepEqual(le.expired(9_999), []);
    const seen = new Set<bigint>();
    let calls = 0;
    for (;;) {
      const pops = le.stats().expiryHeapPops;
      const batch = le.expired(10_000);
      assert.equal(le.stats().expiryHeapPops - pops, batch.length, 'pops only what it hands out');
      if (batch.length === 0) break;
      calls++;
      assert.equal(batch.length, Math.min(LEASE_REVOKE_BATCH_MAX, N - seen.size));
      for (const id of batch) { assert.ok(!seen.has(id)); seen.add(id); }
    }
    assert.equal(seen.size, N);
    assert.equal(calls, N / LEASE_REVOKE_BATCH_MAX);
    // Nobody revoked them: after the retry delay they come back, still in bounded batches.
    assert.equal(le.expired(10_000 + CONFIG.revokeRetryMs).length, LEASE_REVOKE_BATCH_MAX);
  });

  it('renews cost no heap work; entries are re-armed once per TTL; nothing is handed out twice', () => {
    const le = leaderWith(() => 10);
    const pushesBefore = le.stats().expiryHeapPushes;
    for (let round = 1; round <= 30; round++) {
      const pushes = le.stats().expiryHeapPushes;
      for (let i = 1; i <= N; i++) assert.equal(le.renew(BigInt(i), round * 1000).kind, 'renewed');
      assert.equal(le.stats().expiryHeapPushes, pushes, 'a renew that extends the expiry pushes nothing');
      for (let t = round * 1000 - 500; t <= round * 1000; t += LEASE_REVOKE_INTERVAL_MS) {
        do assert.deepEqual(le.expired(t), []); while (le.hasExpired(t));
      }
      assert.equal(le.stats().expiryHeapSize, N, 'one entry per lease');
    }
    // 30 renews per lease, re-armed when the entry surfaced at 10 s, 20 s and 30 s.
    assert.equal(le.stats().expiryHeapPushes - pushesBefore, 3 * N);
    const seen = new Set<bigint>();
    for (let t = 30_500; t <= 41_000; t += LEASE_REVOKE_INTERVAL_MS) {
      for (let b = le.expired(t); b.length > 0; b = le.expired(t)) {
        assert.ok(t >= 40_000, `handed out at ${t}, before its expiry`);
        for (const id of b) { assert.ok(!seen.has(id), `lease ${id} twice`); seen.add(id); le.revoke(id); }
      }
    }
    assert.equal(seen.size, N);
  });

  it('a renew that brings the expiry earlier (just after promote) is honoured', () => {
    const le = new Lessor(CONFIG);
    le.grant(1n, 10, 0);
    le.promote(5000, 0); // due at 15 s
    assert.equal(le.renew(1n, 0).kind, 'renewed'); // now due at 10 s
    assert.deepEqual(le.expired(9_999), []);
    assert.deepEqual(le.expired(10_000), [1n]);
    assert.deepEqual(le.expired(15_000), [], 'the superseded entry is dead');
  });

  it('re-arming a burst of renewed leases is sliced into bounded calls', () => {
    const le = leaderWith(() => 10);
    for (let i = 1; i <= N; i++) le.renew(BigInt(i), 5000); // all 100,000 entries surface at 10 s
    let calls = 0;
    while (le.hasExpired(10_000)) {
      const pops = le.stats().expiryHeapPops;
      assert.deepEqual(le.expired(10_000), [], 'renewed leases are not expiries');
      assert.ok(le.stats().expiryHeapPops - pops <= EXPIRED_POPS_PER_CALL_MAX);
      calls++;
    }
    assert.equal(calls, Math.ceil(N / EXPIRED_POPS_PER_CALL_MAX));
    assert.equal(le.stats().expiryHeapSize, N, 'every entry re-armed once');
    assert.equal(le.expired(15_000).length, LEASE_REVOKE_BATCH_MAX);
  });

  it('dead entries of revoked leases are compacted away', () => {
    const le = leaderWith(() => 1_000_000); // entries that would not surface for days
    for (let i = 1; i <= N; i++) le.revoke(BigInt(i));
    for (let i = 1; i <= 3000; i++) le.grant(BigInt(N + i), 10, 0);
    assert.ok(le.stats().expiryHeapSize <= 2 * 3000 + 1024 + 1, `heap holds ${le.stats().expiryHeapSize}`);
    le.assertConsistent();
  });

  it('promote over 100,000 leases rebuilds the heap without pushes', () => {
    const le = new Lessor(CONFIG);
    le.restore(Array.from({ length: N }, (_, i) => ({ id: BigInt(i + 1), ttlSec: 60, remainingTtlSec: 0 })));
    le.promote(1000, 0);
    const s = le.stats();
    assert.equal(s.expiryHeapSize, N);
    assert.equal(s.expiryHeapPushes, 0);
    le.demote();
    assert.equal(le.stats().expiryHeapSize, 0);
    le.assertConsistent();
  });
});
