// Cluster membership gaps closed by issue 4, on real tetcd processes:
// - a member joining with --initial-cluster-state existing takes the cluster id from the running
//   cluster (its --initial-cluster lists the CURRENT members, as etcd requires, which need not
//   give the founders' id), keeps it across a restart, and peers still check the token;
// - member records (name, peer and client URLs) survive log compaction: after restarts, and on
//   a member that caught up through a snapshot, every member lists every member fully;
// - membership requests fired together at one member are queued, not timed out.
//
// Bounds on waits are deadlines for the test to give up, not assertions on speed.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { computeClusterId, computeMemberId } from '../../src/server/member-init.js';
import { PROTOCOL_VERSION } from '../../src/transport/codec.js';
import type { Hello } from '../../src/transport/codec.js';
import { UNKNOWN_CLUSTER_ID, checkAckHello, checkInboundHello, clusterIdToAdopt, tokenHashOf } from '../../src/transport/handshake.js';
import { freePort } from '../helpers/servers.js';
import { agreedLeader, b64, makeMember, memberList, post, rangeAll, startCluster, waitFor } from '../helpers/cluster.js';
import type { Cluster, ClusterMember } from '../helpers/cluster.js';

const FLAGS = ['--heartbeat-interval', '50', '--election-timeout', '500'];
const WAIT_MS = 20_000;
/** Longer than the server's own request timeout (5 s + 2 election timeouts), so a Timeout shows as one. */
const SLOW_REQUEST_TIMEOUT_MS = 15_000;

type After = { after(fn: () => Promise<void> | void): void };

/** A membership change retried while leadership moves; `done` says an earlier attempt was applied. */
async function change(url: string, route: string, body: unknown, done: string): Promise<Record<string, unknown>> {
  return waitFor(`${route} ${JSON.stringify(body)}`, WAIT_MS, async () => {
    const r = await post(url, route, body);
    return r.status === 200 || r.body.message === done ? r.body : undefined;
  });
}

async function putVia(url: string, key: string): Promise<Record<string, unknown>> {
  return waitFor(`put ${key}`, WAIT_MS, async () => {
    const r = await post(url, '/v3/kv/put', { key: b64(key), value: b64('v') });
    return r.status === 200 ? r.body : undefined;
  });
}

interface NewMember { name: string; clientPort: number; peerPort: number; peerUrl: string }

async function newMember(name: string, used: number[]): Promise<NewMember> {
  const clientPort = await freePort(used);
  used.push(clientPort);
  const peerPort = await freePort(used);
  used.push(peerPort);
  return { name, clientPort, peerPort, peerUrl: `http://127.0.0.1:${peerPort}` };
}

/** Starts an added member with --initial-cluster-state existing and the given --initial-cluster. */
function startJoiner(t: After, c: Cluster, n: NewMember, root: string, initialCluster: string, extra: string[] = []): ClusterMember {
  const m = makeMember({ name: n.name, clientPort: n.clientPort, peerPort: n.peerPort, dataDir: path.join(root, `${n.name}.etcd`) }, [
    '--initial-cluster', initialCluster, '--initial-cluster-token', c.token, '--initial-cluster-state', 'existing', ...FLAGS, ...extra,
  ]);
  t.after(() => m.kill('SIGTERM'));
  m.start();
  return m;
}

function tempRoot(t: After, prefix: string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

test('a joiner whose --initial-cluster lists the current members adopts the founders\' cluster id', { timeout: 120_000 }, async (t) => {
  const c = await startCluster({ t, args: FLAGS });
  const [m1, m2, m3] = c.members as [ClusterMember, ClusterMember, ClusterMember];
  const founded = (await memberList(m1.url)).clusterId;
  const ids = c.members.map((m) => computeMemberId([m.peerUrl], c.token));
  assert.equal(founded, computeClusterId(ids).toString());

  // Remove m3, add m4: the current members are m1, m2, m4, which is what etcd wants listed.
  const leader = (await agreedLeader(c.members, WAIT_MS)).m;
  const via = leader === m3 ? m1 : leader;
  await change(via.url, '/v3/cluster/member/remove', { ID: computeMemberId([m3.peerUrl], c.token).toString() }, 'etcdserver: member not found');
  await waitFor('m3 stops by itself', WAIT_MS, async () => (m3.running() ? undefined : true));
  const root = tempRoot(t, 'tetcd-join-id-');
  const used = c.members.flatMap((x) => [x.clientPort, x.peerPort]);
  const n4 = await newMember('m4', used);
  await change(m1.url, '/v3/cluster/member/add', { peerURLs: [n4.peerUrl] }, 'etcdserver: member ID already exist');
  // Names other than the members' own, in another order: etcd matches members by peer URLs only.
  const current = `m4=${n4.peerUrl},second=${m2.peerUrl},first=${m1.peerUrl}`;
  const listedIds = [computeMemberId([n4.peerUrl], c.token), ids[0]!, ids[1]!];
  assert.notEqual(computeClusterId(listedIds).toString(), founded, 'the list alone would give another id');
  const m4 = startJoiner(t, c, n4, root, current);

  const checkIds = async (): Promise<void> => {
    const put = await putVia(m4.url, `via-m4-${Date.now()}`);
    assert.equal((put.header as { cluster_id: string }).cluster_id, founded);
    const l = await waitFor('m4 lists m1, m2, m4 with their names', WAIT_MS, async () => {
      const got = await memberList(m4.url);
      return got.members.map((x) => x.name).sort().join() === 'm1,m2,m4' ? got : undefined;
    });
    assert.equal(l.clusterId, founded);
    const st = await post(m4.url, '/v3/maintenance/status', {});
    assert.equal((st.body.header as { cluster_id: string }).cluster_id, founded);
    const r = await rangeAll(m4.url, true);
    assert.ok(r.kvs.length > 0);
  };
  await waitFor('m4 serves', WAIT_MS, async () => ((await rangeAll(m4.url, true)).revision >= 1 ? true : undefined));
  await checkIds();
  assert.match(m4.output(), /adopted the cluster id of the running cluster/);

  // A restart keeps the adopted id (the list still does not give it).
  await m4.kill('SIGTERM');
  m4.start();
  await waitFor('m4 serves after a restart', WAIT_MS, async () => ((await rangeAll(m4.url, true)).revision >= 1 ? true : undefined));
  await checkIds();
  // The founders restarted keep theirs too, and all still agree.
  await m1.kill('SIGTERM');
  m1.start();
  await waitFor('m1 serves after a restart', WAIT_MS, async () => ((await memberList(m1.url)).clusterId === founded ? true : undefined));
  await putVia(m1.url, 'after-restarts');
});

test('a joiner started with another cluster token is refused and never serves', { timeout: 60_000 }, async (t) => {
  const c = await startCluster({ t, args: FLAGS });
  const root = tempRoot(t, 'tetcd-join-token-');
  const used = c.members.flatMap((x) => [x.clientPort, x.peerPort]);
  const n4 = await newMember('m4', used);
  await change(c.members[0]!.url, '/v3/cluster/member/add', { peerURLs: [n4.peerUrl], isLearner: true }, 'etcdserver: member ID already exist');
  // Same peer URL, another token: another member id and token hash, so the founders refuse it.
  const m4 = makeMember({ name: 'm4', clientPort: n4.clientPort, peerPort: n4.peerPort, dataDir: path.join(root, 'm4.etcd') }, [
    '--initial-cluster', `${c.initialCluster},m4=${n4.peerUrl}`, '--initial-cluster-token', `${c.token}-other`,
    '--initial-cluster-state', 'existing', ...FLAGS,
  ]);
  t.after(() => m4.kill('SIGTERM'));
  m4.start();
  await waitFor('m4 is refused', WAIT_MS, async () => (/different cluster token/.test(m4.output()) ? true : undefined));
  assert.doesNotMatch(m4.output(), /adopted the cluster id/);
  const health = await fetch(`${m4.url}/health`, { signal: AbortSignal.timeout(2000) }).then(() => 'answered', () => 'no answer');
  assert.equal(health, 'no answer', 'a member that does not know its cluster id does not serve clients');
});

test('handshake: cluster id 0 is adopted once; a known id still refuses others; the token is always checked', () => {
  const token = tokenHashOf('tok');
  const hello = (clusterId: bigint, fromId: bigint, toId: bigint, tokenHash = token): Hello =>
    ({ version: PROTOCOL_VERSION, clusterId, fromId, toId, tokenHash });
  const joiner = { clusterId: UNKNOWN_CLUSTER_ID, memberId: 9n, tokenHash: token };
  const founder = { clusterId: 0xc1n, memberId: 2n, tokenHash: token };
  const isPeer = (): boolean => true;
  // The founder dials the joiner (lower id dials): the joiner accepts and adopts.
  assert.equal(checkInboundHello(joiner, hello(0xc1n, 2n, 9n), isPeer), undefined);
  assert.equal(clusterIdToAdopt(joiner, hello(0xc1n, 2n, 9n)), 0xc1n);
  // The joiner dials a founder with a higher id: accepted, and the HelloAck gives the id.
  assert.equal(checkInboundHello({ ...founder, memberId: 20n }, hello(0n, 9n, 20n), isPeer), undefined);
  assert.equal(checkAckHello(joiner, 20n, hello(0xc1n, 20n, 9n)), undefined);
  assert.equal(clusterIdToAdopt(founder, hello(0xc2n, 20n, 2n)), undefined, 'a known id is never replaced');
  assert.equal(clusterIdToAdopt(joiner, hello(0n, 2n, 9n)), undefined, 'nothing to adopt from another joiner');
  // A member that knows its id refuses another one, with the readable sentence.
  assert.equal(checkInboundHello(founder, hello(0xc2n, 1n, 2n), isPeer), 'member 1 has cluster id c2, expected c1');
  // The token is checked whoever does not know the id.
  const other = tokenHashOf('other');
  assert.match(checkInboundHello(joiner, hello(0xc1n, 2n, 9n, other), isPeer) ?? '', /different cluster token/);
  assert.match(checkInboundHello(founder, hello(0n, 1n, 2n, other), isPeer) ?? '', /different cluster token/);
});

/** Every member lists every other with its name, peer URL and client URL. */
async function assertFullList(m: ClusterMember, all: ClusterMember[]): Promise<void> {
  const want = all.map((x) => `${x.name} ${x.peerUrl} ${x.url}`).sort();
  await waitFor(`${m.name} lists every member fully`, WAIT_MS, async () => {
    const l = await memberList(m.url);
    const got = l.members.map((x) => `${x.name ?? ''} ${(x.peerURLs ?? []).join()} ${(x.clientURLs ?? []).join()}`).sort();
    if (JSON.stringify(got) === JSON.stringify(want)) return true;
    throw new Error(`${m.name} lists ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  });
}

test('member records survive log compaction: restarts and a member caught up by snapshot list every member', { timeout: 180_000 }, async (t) => {
  const c = await startCluster({ t, args: [...FLAGS, '--snapshot-count', '50'] });
  const root = tempRoot(t, 'tetcd-join-records-');
  const used = c.members.flatMap((x) => [x.clientPort, x.peerPort]);
  const n4 = await newMember('m4', used);
  await change(c.members[0]!.url, '/v3/cluster/member/add', { peerURLs: [n4.peerUrl] }, 'etcdserver: member ID already exist');
  const m4 = startJoiner(t, c, n4, root, `${c.initialCluster},m4=${n4.peerUrl}`, ['--snapshot-count', '50']);
  const all = [...c.members, m4];
  for (const m of all) await assertFullList(m, all);

  // Past several snapshots (and log compactions) on every member.
  for (let i = 0; i < 300; i++) await putVia(all[i % all.length]!.url, `k${i}`);
  for (const m of all) {
    await waitFor(`${m.name} has every key`, WAIT_MS, async () => ((await rangeAll(m.url, true)).kvs.length === 300 ? true : undefined));
  }
  // Restart every member, one at a time (the others keep a quorum).
  for (const m of all) {
    await m.kill('SIGTERM');
    m.start();
    await waitFor(`${m.name} serves after a restart`, WAIT_MS, async () => ((await rangeAll(m.url, true)).kvs.length === 300 ? true : undefined));
  }
  for (const m of all) await assertFullList(m, all);

  // m5 joins after the log was compacted: it catches up through a snapshot of the store.
  const n5 = await newMember('m5', used);
  await change(c.members[1]!.url, '/v3/cluster/member/add', { peerURLs: [n5.peerUrl] }, 'etcdserver: member ID already exist');
  const m5 = startJoiner(t, c, n5, root, `${c.initialCluster},m4=${n4.peerUrl},m5=${n5.peerUrl}`, ['--snapshot-count', '50']);
  await waitFor('m5 has every key', WAIT_MS, async () => ((await rangeAll(m5.url, true)).kvs.length === 300 ? true : undefined));
  assert.match(m5.output(), /installing a snapshot from the leader/);
  for (const m of [...all, m5]) await assertFullList(m, [...all, m5]);
  await m5.kill('SIGTERM');
  m5.start();
  await assertFullList(m5, [...all, m5]);
});

/** POST with a deadline beyond the server's request timeout. */
async function postSlow(url: string, route: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${route}`, {
    method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(SLOW_REQUEST_TIMEOUT_MS),
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** etcd's rule-based refusals a change may meet here (never a timeout). */
const RULE_ERRORS = new Set([
  'etcdserver: re-configuration failed due to not enough started members',
  'etcdserver: too many learner members in cluster',
]);

test('membership changes fired together at one member are queued: none times out', { timeout: 120_000 }, async (t) => {
  const c = await startCluster({ t, args: FLAGS });
  const [m1] = c.members as [ClusterMember];
  const leader = (await agreedLeader(c.members, WAIT_MS)).m;
  const follower = c.members.find((m) => m !== leader)!;
  // The strict reconfiguration check counts started members: wait until all three published.
  await waitFor('founders published', WAIT_MS, async () =>
    ((await memberList(follower.url)).members.every((x) => (x.clientURLs ?? []).length > 0) ? true : undefined));
  const ports = c.members.flatMap((x) => [x.clientPort, x.peerPort]);
  const urls: string[] = [];
  for (let i = 0; i < 4; i++) urls.push(`http://127.0.0.1:${await freePort([...ports, ...urls.map((u) => Number(new URL(u).port))])}`);
  const [a, b, l1, l2] = urls as [string, string, string, string];
  const m1Id = computeMemberId([m1.peerUrl], c.token).toString();
  const requests: Array<[string, unknown]> = [
    ['/v3/cluster/member/add', { peerURLs: [a] }],
    ['/v3/cluster/member/add', { peerURLs: [b] }],
    ['/v3/cluster/member/add', { peerURLs: [l1], isLearner: true }],
    ['/v3/cluster/member/add', { peerURLs: [l2], isLearner: true }],
    ['/v3/cluster/member/update', { ID: m1Id, peerURLs: [m1.peerUrl] }],
  ];
  const answers = await Promise.all(requests.map(([route, body]) => postSlow(follower.url, route, body)));
  const ok = answers.filter((r) => r.status === 200);
  for (const r of answers) {
    assert.ok(r.status === 200 || RULE_ERRORS.has(String(r.body.message)), `not a rule-based answer: ${JSON.stringify(r.body)}`);
  }
  // Both voters fit (5 voters, 3 started: a quorum), one learner at most: the other learner is refused.
  assert.equal(ok.length, 4, JSON.stringify(answers.map((r) => r.body.message ?? 'ok')));
  const learnerRefused = answers.filter((r) => r.body.message === 'etcdserver: too many learner members in cluster');
  assert.equal(learnerRefused.length, 1);
  // Every member lists the same 3 + 3.
  const want = [...c.members.map((m) => m.peerUrl), a, b, answers[2]!.status === 200 ? l1 : l2].sort();
  for (const m of c.members) {
    await waitFor(`${m.name} lists the 6 members`, WAIT_MS, async () => {
      const got = (await memberList(m.url)).members.map((x) => (x.peerURLs ?? []).join()).sort();
      return JSON.stringify(got) === JSON.stringify(want) ? true : undefined;
    });
  }
  await putVia(leader.url, 'still-writable');
});
