// 3-member clusters of real tetcd processes on loopback: requests to any member, failover after
// kill -9 of the leader under a bounded write load (no acknowledged write lost, the killed member
// rejoins and every member ends with identical data), catch-up through a snapshot after the
// others compacted their logs, and a member with another --initial-cluster-token refused.
//
// Timing: fast elections (heartbeat 50 ms, election timeout 500 ms) and a small
// --snapshot-count, so that the file runs in well under a minute. Bounds on waits are
// deadlines for the test to give up, not assertions on speed.

import assert from 'node:assert/strict';
import test from 'node:test';
import { computeMemberId } from '../../src/server/member-init.js';
import { freePort } from '../helpers/servers.js';
import {
  b64, makeMember, post, rangeAll, sleep, startCluster, status, unb64, waitFor,
} from '../helpers/cluster.js';
import type { Cluster, ClusterMember } from '../helpers/cluster.js';

const ELECTION_TIMEOUT_MS = 500;
const FLAGS = ['--heartbeat-interval', '50', '--election-timeout', String(ELECTION_TIMEOUT_MS), '--snapshot-count', '100'];
/** Load clients; each has at most one request in flight. */
const LOAD_CLIENTS = 4;
/** A new leader must be known within this many election timeouts (pre-vote needs two rounds). */
const NEW_LEADER_ELECTION_TIMEOUTS_MAX = 10;
const CATCH_UP_TIMEOUT_MS = 20_000;

async function put(url: string, key: string, value: string): Promise<Record<string, unknown>> {
  const r = await post(url, '/v3/kv/put', { key: b64(key), value: b64(value) });
  if (r.status !== 200) throw new Error(`put ${key} on ${url}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function leaderOf(c: Cluster, among: ClusterMember[] = c.members): Promise<ClusterMember> {
  return waitFor('one leader known to every running member', 10_000, async () => {
    const seen = await Promise.all(among.map((m) => status(m.url)));
    const lead = seen[0]!.leader;
    if (lead === '0' || !seen.every((s) => s.leader === lead)) return undefined;
    const ids = await Promise.all(c.members.filter((m) => m.running()).map(async (m) => [m, (await status(m.url)).memberId] as const));
    return ids.find(([, id]) => id === lead)?.[0];
  });
}

/** Waits until every running member has applied the same index, then compares their data. */
async function assertSameData(c: Cluster): Promise<Awaited<ReturnType<typeof rangeAll>>> {
  const running = c.members.filter((m) => m.running());
  await waitFor('every member applied the same index', CATCH_UP_TIMEOUT_MS, async () => {
    const s = await Promise.all(running.map((m) => status(m.url)));
    const idx = s[0]!.raftAppliedIndex;
    return s.every((x) => x.raftAppliedIndex === idx && x.raftIndex === idx) ? true : undefined;
  });
  const views = await Promise.all(running.map((m) => rangeAll(m.url, true)));
  for (let i = 1; i < views.length; i++) {
    assert.deepEqual(views[i], views[0], `${running[i]!.name} and ${running[0]!.name} hold different data`);
  }
  return views[0]!;
}

interface Load {
  /** Acknowledged writes: key -> value. */
  acked: Map<string, string>;
  failures: number;
  stop(): Promise<void>;
}

/** LOAD_CLIENTS clients writing fresh keys round-robin over the running members. */
function startLoad(c: Cluster): Load {
  const acked = new Map<string, string>();
  const load: Load = { acked, failures: 0, stop: async () => undefined };
  let stopping = false;
  const client = async (id: number): Promise<void> => {
    for (let n = 0; !stopping; n++) {
      const running = c.members.filter((m) => m.running());
      const m = running[(id + n) % running.length]!;
      const key = `load/${id}/${n}`;
      try {
        await put(m.url, key, `v${n}`);
        acked.set(key, `v${n}`);
      } catch {
        load.failures += 1; // maybe applied: not checked either way
        await sleep(20);
      }
    }
  };
  const clients = Array.from({ length: LOAD_CLIENTS }, (_, i) => client(i));
  load.stop = async () => {
    stopping = true;
    await Promise.all(clients);
  };
  return load;
}

test('3 members: any member serves writes and reads; kill -9 of the leader loses no acknowledged write', async (t) => {
  const c = await startCluster({ t, args: FLAGS });
  // Writes through every member, reads (linearizable and serializable) from every member.
  for (const [i, m] of c.members.entries()) {
    const body = await put(m.url, `via/${m.name}`, `v${i}`);
    const header = body.header as { member_id: string; raft_term: string };
    assert.equal(header.member_id, (await status(m.url)).memberId, 'the header names the serving member');
    assert.ok(Number(header.raft_term) >= 1);
  }
  for (const m of c.members) {
    const lin = await rangeAll(m.url, false);
    assert.deepEqual(lin.kvs.map((kv) => `${kv.key}=${kv.value}`), ['via/m1=v0', 'via/m2=v1', 'via/m3=v2']);
  }
  await assertSameData(c);

  const load = startLoad(c);
  await waitFor('some load acknowledged', 10_000, async () => (load.acked.size >= 50 ? true : undefined));
  const oldLeader = await leaderOf(c);
  const oldLeaderId = (await status(oldLeader.url)).memberId;
  await oldLeader.kill('SIGKILL');
  const killedAtMs = Date.now();
  const survivors = c.members.filter((m) => m !== oldLeader);
  const newLeader = await waitFor('a new leader', NEW_LEADER_ELECTION_TIMEOUTS_MAX * ELECTION_TIMEOUT_MS, async () => {
    const s = await Promise.all(survivors.map((m) => status(m.url)));
    const lead = s[0]!.leader;
    return lead !== '0' && lead !== oldLeaderId && s.every((x) => x.leader === lead) ? lead : undefined;
  });
  assert.notEqual(newLeader, oldLeaderId);
  t.diagnostic(`new leader known ${Date.now() - killedAtMs} ms after kill -9 (election timeout ${ELECTION_TIMEOUT_MS} ms)`);
  const ackedAtKill = load.acked.size;
  await waitFor('writes continue after failover', 10_000, async () => (load.acked.size >= ackedAtKill + 50 ? true : undefined));
  await load.stop();

  oldLeader.start(); // same flags, same data dir: it rejoins
  await c.waitHealthy();
  const data = await assertSameData(c);
  const byKey = new Map(data.kvs.map((kv) => [kv.key, kv.value]));
  let lost = 0;
  for (const [key, value] of load.acked) if (byKey.get(key) !== value) lost += 1;
  assert.equal(lost, 0, `${lost} of ${load.acked.size} acknowledged writes are missing or wrong`);
  t.diagnostic(`${load.acked.size} writes acknowledged, ${load.failures} failed or timed out during failover`);
  // A linearizable read on the restarted member sees the last acknowledged write.
  const last = [...load.acked.keys()].at(-1)!;
  const r = await post(oldLeader.url, '/v3/kv/range', { key: b64(last) });
  assert.equal(unb64(((r.body.kvs as Array<{ value: string }>)[0]!).value), load.acked.get(last));
});

test('a member that was down while the others compacted their logs catches up through a snapshot', async (t) => {
  const c = await startCluster({ t, args: FLAGS });
  const leader = await leaderOf(c);
  const follower = c.members.find((m) => m !== leader)!;
  await follower.kill('SIGKILL');
  const up = c.members.filter((m) => m.running());
  // --snapshot-count 100 keeps 100 entries behind each snapshot: 400 writes compact past the
  // follower's last index.
  const writers = Array.from({ length: 8 }, async (_, w) => {
    for (let n = 0; n < 50; n++) await put(up[(w + n) % up.length]!.url, `snap/${w}/${n}`, `x${n}`);
  });
  await Promise.all(writers);
  for (const m of up) assert.match(m.output(), /raft: snapshot taken, log compacted/);
  follower.start();
  await c.waitHealthy();
  const data = await assertSameData(c);
  assert.equal(data.kvs.filter((kv) => kv.key.startsWith('snap/')).length, 400);
  assert.match(follower.output(), /installing a snapshot from the leader/);
  assert.match(follower.output(), /store restored from a snapshot/);
  // It keeps applying entries after the snapshot.
  await put(follower.url, 'after-snapshot', 'yes');
  const again = await assertSameData(c);
  assert.ok(again.kvs.some((kv) => kv.key === 'after-snapshot' && kv.value === 'yes'));
});

test('a member with another --initial-cluster-token is refused by the cluster', async (t) => {
  const c = await startCluster({ t, args: FLAGS });
  const target = c.members[0]!;
  const clientPort = await freePort();
  const peerPort = await freePort([clientPort]);
  const intruderUrl = `http://127.0.0.1:${peerPort}`;
  // Pick a token under which the intruder has the lower id, so that it is the one that dials.
  let token = '';
  for (let i = 0; token === ''; i++) {
    const candidate = `other-token-${i}`;
    if (computeMemberId([intruderUrl], candidate) < computeMemberId([target.peerUrl], candidate)) token = candidate;
  }
  const intruder = makeMember({ name: 'intruder', clientPort, peerPort, dataDir: `${target.dataDir}-intruder` }, [
    '--initial-cluster', `intruder=${intruderUrl},${target.name}=${target.peerUrl}`, '--initial-cluster-token', token,
    ...FLAGS,
  ]);
  t.after(() => intruder.kill());
  intruder.start();
  await waitFor('the refusal in the cluster member log', 15_000, async () => (/refusing/.test(target.output()) ? true : undefined));
  assert.match(target.output(), /cluster (id|token)[^\n]*refusing/);
  await waitFor('the refusal in the intruder log', 15_000, async () => (/refused by the other side/.test(intruder.output()) ? true : undefined));
  // The cluster carries on.
  await put(target.url, 'still', 'serving');
  await assertSameData(c);
});
