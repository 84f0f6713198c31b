// Leases kept alive through a FOLLOWER of a 3-member cluster of real tetcd processes: the
// follower forwards keep-alives and time-to-live to the leader over the peer transport (etcd's
// LeaseRenew / LeaseTimeToLive forwarding). Keys attached to leases with a short TTL survive
// many TTLs, and a kill -9 of the leader, as long as keep-alives keep coming through the
// follower (HTTP line stream and WebSocket); time-to-live asked of the follower is the leader's
// clock, not the follower's granted-TTL guess; once keep-alives stop, the keys go everywhere.
//
// Without forwarding a follower answers keep-alives only with NotLeader retries until its request
// timeout, so its streams fail and the leases expire: this file fails then.
//
// Timing: fast elections (heartbeat 50 ms, election timeout 500 ms). Waits are generous
// deadlines for the test to give up, not assertions on speed.

import assert from 'node:assert/strict';
import test from 'node:test';
import { b64, post, rangeAll, sleep, startCluster, status, waitFor } from '../helpers/cluster.js';
import type { Cluster, ClusterMember } from '../helpers/cluster.js';
import { openHttpKeepAlive, openWsKeepAlive } from '../lease/client.js';
import type { KeepAliveConn } from '../lease/client.js';

const ELECTION_TIMEOUT_MS = 500;
const FLAGS = ['--heartbeat-interval', '50', '--election-timeout', String(ELECTION_TIMEOUT_MS)];
const TTL_SEC = 5;
/** Kept alive through the follower: ids, each with two keys attached. */
const KEPT = [7001n, 7002n, 7003n];
/** Never kept alive, for time-to-live: its remaining time must come from the leader's clock. */
const IDLE = 7100n;
const IDLE_TTL_SEC = 30;
const KEEPALIVE_INTERVAL_MS = 500;
const LEADER_WAIT_MS = 15_000;
/** TTL plus the lessor's revoke period and a raft round, with a wide margin. */
const EXPIRY_WAIT_MS = 30_000;

async function ok(url: string, route: string, body: unknown): Promise<Record<string, any>> {
  const r = await post(url, route, body);
  assert.equal(r.status, 200, `${route} on ${url}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The member every running member names as leader, and that member's id. */
async function leaderOf(c: Cluster): Promise<{ leader: ClusterMember; ids: Map<ClusterMember, string> }> {
  const running = c.members.filter((m) => m.running());
  return waitFor('one leader known to every running member', LEADER_WAIT_MS, async () => {
    const seen = await Promise.all(running.map(async (m) => [m, await status(m.url)] as const));
    const lead = seen[0]![1].leader;
    if (lead === '0' || !seen.every(([, s]) => s.leader === lead)) return undefined;
    const leader = seen.find(([, s]) => s.memberId === lead)?.[0];
    return leader === undefined ? undefined : { leader, ids: new Map(seen.map(([m, s]) => [m, s.memberId])) };
  });
}

async function timeToLive(url: string, id: bigint): Promise<{ TTL: number; grantedTTL: number; keys: string[] }> {
  const r = await ok(url, '/v3/lease/timetolive', { ID: String(id), keys: true });
  return { TTL: Number(r.TTL ?? 0), grantedTTL: Number(r.grantedTTL ?? 0), keys: ((r.keys ?? []) as string[]).map((k) => Buffer.from(k, 'base64').toString()) };
}

async function leaseIds(url: string): Promise<string[]> {
  const r = await ok(url, '/v3/lease/leases', {});
  return ((r.leases ?? []) as Array<{ ID: string }>).map((l) => l.ID).sort();
}

async function leaseKeys(url: string): Promise<string[]> {
  return (await rangeAll(url, false)).kvs.map((kv) => kv.key).filter((k) => k.startsWith('kept/')).sort();
}

const keysOf = (id: bigint): string[] => [`kept/${id}/a`, `kept/${id}/b`];
const ALL_KEYS = KEPT.flatMap(keysOf).sort();

/** Sends every lease id on its stream each interval until stopped. */
function keepAliveLoop(streams: Array<{ conn: KeepAliveConn; ids: bigint[] }>): { stop(): Promise<void> } {
  let stopping = false;
  const done = (async () => {
    while (!stopping) {
      for (const s of streams) for (const id of s.ids) s.conn.send(id);
      await sleep(KEEPALIVE_INTERVAL_MS);
    }
  })();
  return { stop: async () => { stopping = true; await done; } };
}

/** Every answer so far is a result for one of `ids` with a positive TTL, and the stream is open. */
function assertAnswersOk(name: string, conn: KeepAliveConn, ids: bigint[], memberId: string): void {
  assert.ok(!conn.ended, `${name}: the keep-alive stream ended: ${JSON.stringify(conn.answers.slice(-3))}`);
  for (const a of conn.answers) {
    const r = a.result as (typeof a.result & { header: { member_id?: string } }) | undefined;
    assert.ok(r !== undefined, `${name}: an error on the stream: ${JSON.stringify(a)}`);
    assert.ok(ids.map(String).includes(r.ID ?? ''), `${name}: answer for an unexpected lease ${JSON.stringify(a)}`);
    assert.ok(Number(r.TTL ?? 0) > 0, `${name}: the lease was not found: ${JSON.stringify(a)}`);
    assert.equal(r.header.member_id, memberId, `${name}: the header names the member that answered the client`);
  }
}

test('leases kept alive through a follower survive TTLs and a kill -9 of the leader', { timeout: 180_000 }, async (t) => {
  const c = await startCluster({ t, args: FLAGS });
  const { leader, ids } = await leaderOf(c);
  const [via, other] = c.members.filter((m) => m !== leader) as [ClusterMember, ClusterMember];
  t.diagnostic(`leader ${leader.name}; keep-alives through follower ${via.name}`);

  for (const id of KEPT) {
    await ok(via.url, '/v3/lease/grant', { ID: String(id), TTL: TTL_SEC });
    for (const k of keysOf(id)) await ok(via.url, '/v3/kv/put', { key: b64(k), value: b64('v'), lease: String(id) });
  }
  await ok(via.url, '/v3/lease/grant', { ID: String(IDLE), TTL: IDLE_TTL_SEC });

  const http = openHttpKeepAlive(via.url);
  const ws = openWsKeepAlive(via.url);
  t.after(() => { http.close(); ws.close(); });
  const streams = [{ name: 'http', conn: http, ids: KEPT.slice(0, 2) }, { name: 'ws', conn: ws, ids: KEPT.slice(2) }];
  const loop = keepAliveLoop(streams);
  t.after(() => loop.stop());

  await t.test('keep-alive answers come back through the follower with the leader\'s TTL', async () => {
    await waitFor('answers on both streams', 10_000, async () => (http.answers.length >= 4 && ws.answers.length >= 2 ? true : undefined));
    for (const s of streams) assertAnswersOk(s.name, s.conn, s.ids, ids.get(via)!);
    assert.ok(http.answers.every((a) => a.result?.TTL === String(TTL_SEC)), JSON.stringify(http.answers.slice(0, 4)));
  });

  await t.test('time-to-live through the follower is the leader\'s remaining time', async () => {
    await sleep(2_500); // the idle lease's clock runs on the leader only
    const before = await timeToLive(leader.url, IDLE);
    const through = await timeToLive(via.url, IDLE);
    const after = await timeToLive(leader.url, IDLE);
    assert.equal(through.grantedTTL, IDLE_TTL_SEC);
    assert.ok(through.TTL < IDLE_TTL_SEC, `the follower answered its own guess (${through.TTL} s), not the leader's clock`);
    assert.ok(before.TTL >= through.TTL && through.TTL >= after.TTL, `leader ${before.TTL}, follower ${through.TTL}, leader ${after.TTL}`);
    const kept = await timeToLive(via.url, KEPT[0]!);
    assert.ok(kept.TTL > 0 && kept.TTL <= TTL_SEC, `kept lease TTL ${kept.TTL}`);
    assert.deepEqual(kept.keys.sort(), keysOf(KEPT[0]!));
  });

  await t.test('kill -9 of the leader: keep-alives through the surviving follower hold every lease', async () => {
    await leader.kill('SIGKILL');
    await leaderOf(c);
    await sleep(2 * TTL_SEC * 1000 + 1_000);
    for (const s of streams) assertAnswersOk(s.name, s.conn, s.ids, ids.get(via)!);
    for (const m of [via, other]) {
      assert.deepEqual(await leaseKeys(m.url), ALL_KEYS, `keys on ${m.name}`);
      const listed = await leaseIds(m.url);
      for (const id of KEPT) assert.ok(listed.includes(String(id)), `lease ${id} listed on ${m.name}: ${listed.join(',')}`);
    }
    for (const id of KEPT) {
      const r = await timeToLive(via.url, id);
      assert.ok(r.TTL > 0, `lease ${id} TTL ${r.TTL} through ${via.name}`);
    }
  });

  await t.test('once keep-alives stop, the leases expire and their keys go from every member', async () => {
    await loop.stop();
    http.end();
    ws.end();
    for (const m of [via, other]) {
      await waitFor(`the leased keys gone on ${m.name}`, EXPIRY_WAIT_MS, async () => ((await leaseKeys(m.url)).length === 0 ? true : undefined));
    }
    const listed = await leaseIds(via.url);
    for (const id of KEPT) assert.ok(!listed.includes(String(id)), `lease ${id} still listed`);
  });
});
