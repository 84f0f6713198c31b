// The lessor as mvcc-apply runs it (src/lease/lease-apply.ts), over a real MvccStore on the
// in-memory backend: lease entries through the raft request codec, attachments following puts
// and deletes (txn puts too), revoke deleting every key in ONE revision with DELETE events,
// records persisted in the data's batch and restored with their attachments, promotion at the
// leader's term, held keep-alives released by the revoke or by a demote, and the leader's tick
// proposing bounded revoke batches. Time is passed in explicitly: no timers, no sleeps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS } from '../../src/api/errors.js';
import type { ResponseHeader } from '../../src/api/types.js';
import { LeaseApplier, leaseBackendKey, readLeaseRecords } from '../../src/lease/lease-apply.js';
import type { LeaseAnswer } from '../../src/lease/lease-apply.js';
import { LEASE_REVOKE_BATCH_MAX } from '../../src/lease/lessor.js';
import type { LeaseRaftRequest } from '../../src/lease/requests.js';
import { MemoryBackend } from '../../src/mvcc/memory-backend.js';
import { decodeRaftRequest, encodeRaftRequest } from '../../src/mvcc/request-codec.js';
import { MvccStore } from '../../src/mvcc/store.js';
import type { MvccEvent } from '../../src/mvcc/store.js';

const te = new TextEncoder();
const k = (s: string): Uint8Array => te.encode(s);
const str = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const header = (revision: number): ResponseHeader => ({ clusterId: 1n, memberId: 2n, revision, raftTerm: 3 });
/** etcd's defaults: min TTL 2 s, promote extension 1 s. */
const OPTS = { electionTimeoutMs: 1000, heartbeatIntervalMs: 100, header };

interface Rig {
  backend: MemoryBackend;
  store: MvccStore;
  leases: LeaseApplier;
  events: Array<{ revision: number; events: readonly MvccEvent[] }>;
}

async function open(backend = new MemoryBackend()): Promise<Rig> {
  const events: Rig['events'] = [];
  let applier: LeaseApplier | undefined;
  const store = await MvccStore.open(backend, {
    onChanges: (evs, revision) => { applier!.onChanges(evs); events.push({ revision, events: evs }); },
  });
  applier = (await LeaseApplier.load(backend, store, OPTS)).applier;
  return { backend, store, leases: applier, events };
}

/** Applies a lease request the way mvcc-apply does: through the raft entry codec. */
function apply(rig: Rig, req: LeaseRaftRequest, nowMs: number): unknown {
  const decoded = decodeRaftRequest(encodeRaftRequest({ id: 9n, ...req }));
  assert.equal(decoded.id, 9n);
  assert.ok('leaseGrant' in decoded || 'leaseRevoke' in decoded || 'leaseCheckpoint' in decoded);
  return rig.leases.apply(decoded, rig.store, nowMs);
}

function leader(rig: Rig, nowMs: number): void {
  rig.leases.setLeader(true, 2);
  rig.leases.onEntryApplied(1, nowMs);
  assert.equal(rig.leases.lessor.isPrimary, false, 'not promoted before an entry of its term');
  rig.leases.onEntryApplied(2, nowMs);
  assert.equal(rig.leases.lessor.isPrimary, true);
}

function okOf(a: LeaseAnswer | undefined): Record<string, unknown> {
  assert.ok(a !== undefined && 'ok' in a, `expected an answer, got ${JSON.stringify(a, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  return a.ok as Record<string, unknown>;
}

describe('lease entries applied to the store', () => {
  it('grant persists a record; the minimum TTL applies; duplicates and huge TTLs are refused', async () => {
    const rig = await open();
    assert.deepEqual(apply(rig, { leaseGrant: { ID: 7n, TTL: 1 } }, 0), { header: header(1), ID: 7n, TTL: 2 });
    assert.throws(() => apply(rig, { leaseGrant: { ID: 7n, TTL: 5 } }, 0), { message: ERRORS.LeaseExist.message });
    assert.throws(() => apply(rig, { leaseGrant: { ID: 8n, TTL: 9_000_000_001 } }, 0), { message: ERRORS.LeaseTTLTooLarge.message });
    await rig.store.commit();
    assert.deepEqual(await readLeaseRecords(rig.backend), [{ id: 7n, ttlSec: 2, remainingTtlSec: 0 }]);
    assert.deepEqual(rig.leases.takeIdChanges(), { reset: true, granted: [7n], revoked: [] });
  });

  it('puts attach (moving keys between leases), ignore_lease keeps it, txn puts attach, deletes detach', async () => {
    const rig = await open();
    apply(rig, { leaseGrant: { ID: 1n, TTL: 60 } }, 0);
    apply(rig, { leaseGrant: { ID: 2n, TTL: 60 } }, 0);
    rig.store.put({ key: k('a'), value: k('1'), lease: 1n });
    rig.store.put({ key: k('b'), value: k('1'), lease: 1n });
    rig.store.put({ key: k('a'), value: k('2'), lease: 2n });
    rig.store.put({ key: k('b'), value: k('3'), ignoreLease: true });
    rig.store.txn({ compare: [], success: [{ requestPut: { key: k('c'), value: k('1'), lease: 2n } }], failure: [] });
    const keysOf = (ID: bigint): string[] => (okOf(rig.leases.query(1n, { kind: 'timeToLive', ID, keys: true }, 1, 0)).keys as Uint8Array[]).map(str);
    assert.deepEqual(keysOf(1n), ['b']);
    assert.deepEqual(keysOf(2n), ['a', 'c']);
    rig.store.put({ key: k('c'), value: k('2') }); // no lease: detached
    rig.store.deleteRange({ key: k('a') });
    assert.deepEqual(keysOf(2n), []);
    assert.throws(() => rig.store.put({ key: k('x'), value: k('1'), lease: 3n }), { message: ERRORS.LeaseNotFound.message });
    assert.throws(() => rig.store.txn({ compare: [], success: [{ requestPut: { key: k('x'), value: k('1'), lease: 3n } }], failure: [] }),
      { message: ERRORS.LeaseNotFound.message });
  });

  it('revoke deletes every attached key in ONE revision (more keys than --max-txn-ops) with DELETE events', async () => {
    const rig = await open();
    apply(rig, { leaseGrant: { ID: 5n, TTL: 60 } }, 0);
    const n = 300;
    for (let i = 0; i < n; i++) rig.store.put({ key: k(`k/${String(i).padStart(3, '0')}`), value: k('v'), lease: 5n });
    rig.store.put({ key: k('other'), value: k('v') });
    const before = rig.store.currentRevision;
    rig.events.length = 0;
    assert.deepEqual(apply(rig, { leaseRevoke: { ID: 5n } }, 0), { header: header(before + 1) });
    assert.equal(rig.store.currentRevision, before + 1);
    assert.equal(rig.events.length, 1);
    assert.equal(rig.events[0]!.events.length, n);
    assert.ok(rig.events[0]!.events.every((e) => e.type === 'DELETE' && e.kv.modRevision === before + 1));
    const left = rig.store.range({ key: k('\0'), rangeEnd: k('\0') });
    assert.ok(!(left instanceof Promise));
    assert.deepEqual(left.kvs.map((kv) => str(kv.key)), ['other']);
    assert.throws(() => apply(rig, { leaseRevoke: { ID: 5n } }, 0), { message: ERRORS.LeaseNotFound.message });
    await rig.store.commit();
    assert.deepEqual(await readLeaseRecords(rig.backend), []);
  });

  it('a revoke of a lease with no keys does not bump the revision', async () => {
    const rig = await open();
    apply(rig, { leaseGrant: { ID: 5n, TTL: 60 } }, 0);
    assert.deepEqual(apply(rig, { leaseRevoke: { ID: 5n } }, 0), { header: header(1) });
  });

  it('checkpoints are persisted and restored', async () => {
    const rig = await open();
    apply(rig, { leaseGrant: { ID: 5n, TTL: 600 } }, 0);
    apply(rig, { leaseCheckpoint: { checkpoints: [{ ID: 5n, remainingTTL: 300 }, { ID: 6n, remainingTTL: 1 }] } }, 0);
    await rig.store.commit();
    assert.deepEqual(await readLeaseRecords(rig.backend), [{ id: 5n, ttlSec: 600, remainingTtlSec: 300 }]);
  });
});

describe('restart', () => {
  it('restores leases and re-attaches keys from the KV data', async () => {
    const rig = await open();
    apply(rig, { leaseGrant: { ID: 1n, TTL: 60 } }, 0);
    apply(rig, { leaseGrant: { ID: -2n, TTL: 30 } }, 0);
    rig.store.put({ key: k('a'), value: k('1'), lease: 1n });
    rig.store.put({ key: k('b'), value: k('1'), lease: -2n });
    rig.store.put({ key: k('c'), value: k('1'), lease: 1n });
    rig.store.put({ key: k('c'), value: k('2') });
    await rig.store.commit();
    const again = await open(rig.backend);
    assert.deepEqual(again.leases.lessor.leases().sort(), [-2n, 1n]);
    const t = okOf(again.leases.query(1n, { kind: 'timeToLive', ID: 1n, keys: true }, 1, 0));
    assert.deepEqual((t.keys as Uint8Array[]).map(str), ['a']);
    assert.equal(t.grantedTTL, 60);
    assert.equal(again.leases.lessor.leaseOf(k('b')), -2n);
    assert.equal(again.leases.lessor.leaseOf(k('c')), 0n);
    // The clock restarts from the full TTL plus the extension when this member leads again.
    leader(again, 10_000);
    assert.deepEqual(again.leases.tick(10_000 + 30_000 + 999), []);
    assert.deepEqual(again.leases.tick(10_000 + 30_000 + 1000), [{ leaseRevoke: { ID: -2n } }]);
  });
});

describe('leadership, keep-alives and expiry', () => {
  it('a follower refuses keep-alives (NotLeader) and never expires leases', async () => {
    const rig = await open();
    apply(rig, { leaseGrant: { ID: 1n, TTL: 2 } }, 0);
    const a = rig.leases.query(3n, { kind: 'keepAlive', ID: 1n }, 1, 0);
    assert.ok(a !== undefined && 'err' in a && a.err.message === ERRORS.NotLeader.message);
    assert.deepEqual(rig.leases.tick(1e9), []);
  });

  it('the leader renews, answers unknown leases with TTL 0, and proposes revokes of expired ones', async () => {
    const rig = await open();
    leader(rig, 0);
    apply(rig, { leaseGrant: { ID: 1n, TTL: 10 } }, 0);
    apply(rig, { leaseGrant: { ID: 2n, TTL: 10 } }, 0);
    assert.deepEqual(okOf(rig.leases.query(3n, { kind: 'keepAlive', ID: 1n }, 1, 9_000)), { header: header(1), ID: 1n, TTL: 10 });
    assert.deepEqual(okOf(rig.leases.query(4n, { kind: 'keepAlive', ID: 99n }, 1, 9_000)), { header: header(1), ID: 99n, TTL: 0 });
    assert.deepEqual(rig.leases.tick(9_999), []);
    assert.deepEqual(rig.leases.tick(10_000), [{ leaseRevoke: { ID: 2n } }]);
    assert.deepEqual(rig.leases.tick(10_001), [], 'a lease handed out is not proposed again at once');
    // Its revoke was never applied (lost): it is proposed again after the retry interval (7 s).
    assert.deepEqual(rig.leases.tick(17_000), [{ leaseRevoke: { ID: 2n } }]);
    apply(rig, { leaseRevoke: { ID: 2n } }, 17_001);
    assert.deepEqual(rig.leases.tick(19_000), [{ leaseRevoke: { ID: 1n } }]);
  });

  it('a keep-alive of an expired lease is held until the revoke applies (TTL 0)', async () => {
    const rig = await open();
    leader(rig, 0);
    apply(rig, { leaseGrant: { ID: 1n, TTL: 2 } }, 0);
    assert.equal(rig.leases.query(7n, { kind: 'keepAlive', ID: 1n }, 1, 2_500), undefined);
    assert.deepEqual(rig.leases.takeAnswers(), []);
    apply(rig, { leaseRevoke: { ID: 1n } }, 2_600);
    assert.deepEqual(rig.leases.takeAnswers(), [{ id: 7n, ok: { header: header(1), ID: 1n, TTL: 0 } }]);
  });

  it('a demote answers held keep-alives NotLeader and stops expiry', async () => {
    const rig = await open();
    leader(rig, 0);
    apply(rig, { leaseGrant: { ID: 1n, TTL: 2 } }, 0);
    assert.equal(rig.leases.query(7n, { kind: 'keepAlive', ID: 1n }, 1, 2_500), undefined);
    rig.leases.setLeader(false, 3);
    const answers = rig.leases.takeAnswers();
    assert.equal(answers.length, 1);
    assert.ok('err' in answers[0]! && answers[0].err.message === ERRORS.NotLeader.message);
    assert.deepEqual(rig.leases.tick(1e9), []);
  });

  it('a burst of expiries is proposed in bounded batches', async () => {
    const rig = await open();
    leader(rig, 0);
    const n = 2 * LEASE_REVOKE_BATCH_MAX + 7;
    for (let i = 1; i <= n; i++) apply(rig, { leaseGrant: { ID: BigInt(i), TTL: 5 } }, 0);
    const batches = [rig.leases.tick(5_000), rig.leases.tick(5_500), rig.leases.tick(6_000), rig.leases.tick(6_500)];
    assert.deepEqual(batches.map((b) => b.length), [LEASE_REVOKE_BATCH_MAX, LEASE_REVOKE_BATCH_MAX, 7, 0]);
  });

  it('timetolive of an unknown lease is TTL -1; leases lists every lease', async () => {
    const rig = await open();
    apply(rig, { leaseGrant: { ID: 4n, TTL: 60 } }, 0);
    assert.deepEqual(okOf(rig.leases.query(1n, { kind: 'timeToLive', ID: 99n, keys: true }, 1, 0)),
      { header: header(1), ID: 99n, TTL: -1, grantedTTL: 0, keys: [] });
    assert.deepEqual(okOf(rig.leases.query(1n, { kind: 'leases' }, 1, 0)), { header: header(1), leases: [{ ID: 4n }] });
    assert.equal(leaseBackendKey(4n).length, 9);
  });
});
