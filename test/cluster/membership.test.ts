// Cluster membership on real tetcd processes: the member list on every member (with the names
// and client URLs each member publishes), etcd's refusals, a learner added and started with
// --initial-cluster-state existing that catches up and is promoted, leadership moved to a named
// member, a member removed (it stops by itself), and writes served throughout.
//
// Bounds on waits are deadlines for the test to give up, not assertions on speed.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { computeMemberId } from '../../src/server/member-init.js';
import { applyAttrs, decodeContext, encodeContext, listMembers, planChange, validPeerUrls } from '../../src/server/membership.js';
import type { ConfContext, MemberInfo as Info } from '../../src/server/membership.js';
import { ConfChangeType } from '../../src/raft/types.js';
import { freePort } from '../helpers/servers.js';
import { agreedLeader, b64, makeMember, memberList, post, rangeAll, startCluster, status, waitFor } from '../helpers/cluster.js';
import type { Cluster, ClusterMember, MemberJson } from '../helpers/cluster.js';

const FLAGS = ['--heartbeat-interval', '50', '--election-timeout', '500'];
const WAIT_MS = 15_000;

function assertError(r: { status: number; body: Record<string, unknown> }, code: number, message: string): void {
  assert.equal(r.body.code, code, JSON.stringify(r.body));
  assert.equal(r.body.message, message);
  assert.ok(r.status >= 400);
}

test('member list, add a learner that joins, promote, transfer leadership, remove', { timeout: 90_000 }, async (t) => {
  const c = await startCluster({ t, args: FLAGS });
  const [m1, m2, m3] = c.members as [ClusterMember, ClusterMember, ClusterMember];

  // Every member lists the three, each with the name and client URL it published.
  for (const m of c.members) {
    const l = await waitFor(`published attributes on ${m.name}`, WAIT_MS, async () => {
      const got = await memberList(m.url);
      return got.members.every((x) => (x.clientURLs ?? []).length === 1) ? got : undefined;
    });
    assert.deepEqual(l.members.map((x) => x.name).sort(), ['m1', 'm2', 'm3']);
    for (const x of l.members) {
      const owner = c.members.find((y) => y.name === x.name)!;
      assert.deepEqual(x.peerURLs, [owner.peerUrl]);
      assert.deepEqual(x.clientURLs, [owner.url]);
      assert.equal(x.isLearner, undefined);
      assert.equal(x.ID, computeMemberId([owner.peerUrl], c.token).toString());
    }
  }

  const leader = (await agreedLeader(c.members, WAIT_MS)).m;
  const follower = c.members.find((m) => m !== leader)!;
  // etcd's refusals.
  assertError(await post(leader.url, '/v3/cluster/member/add', { peerURLs: ['not a url'] }), 3, 'etcdserver: given member URLs are invalid');
  assertError(await post(follower.url, '/v3/cluster/member/add', { peerURLs: [m1.peerUrl] }), 9, 'etcdserver: member ID already exist');
  assertError(await post(leader.url, '/v3/cluster/member/remove', { ID: '5' }), 5, 'etcdserver: member not found');
  assertError(await post(leader.url, '/v3/cluster/member/promote', { ID: (await status(m2.url)).memberId }), 9, 'etcdserver: can only promote a learner member');
  assertError(await post(follower.url, '/v3/maintenance/transfer-leadership', { targetID: (await status(leader.url)).memberId }), 9, 'etcdserver: not leader');
  assertError(await post(leader.url, '/v3/maintenance/transfer-leadership', { targetID: '5' }), 9, 'etcdserver: bad leader transferee');

  // Add m4 as a learner (through a follower); it is listed, without name, as a learner.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tetcd-join-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const used = c.members.flatMap((m) => [m.clientPort, m.peerPort]);
  const clientPort = await freePort(used);
  const peerPort = await freePort([...used, clientPort]);
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const added = await post(follower.url, '/v3/cluster/member/add', { peerURLs: [peerUrl], isLearner: true });
  assert.equal(added.status, 200, JSON.stringify(added.body));
  const m4Id = computeMemberId([peerUrl], c.token).toString();
  assert.deepEqual(added.body.member, { ID: m4Id, peerURLs: [peerUrl], isLearner: true });
  assert.equal((added.body.members as MemberJson[]).length, 4);
  assertError(await post(leader.url, '/v3/cluster/member/add', { peerURLs: ['http://127.0.0.1:1'], isLearner: true }), 9, 'etcdserver: too many learner members in cluster');
  assertError(await post(leader.url, '/v3/cluster/member/add', { peerURLs: [peerUrl, 'http://127.0.0.1:2'] }), 9, 'etcdserver: Peer URLs already exists');
  // Not started, so not in sync (a follower forwards promote to the leader, which judges that).
  for (const m of [leader, follower]) {
    assertError(await post(m.url, '/v3/cluster/member/promote', { ID: m4Id }), 9, 'etcdserver: can only promote a learner member which is in sync with leader');
  }

  // Data written before m4 starts must reach it.
  const put = await post(leader.url, '/v3/kv/put', { key: b64('before-join'), value: b64('v') });
  assert.equal(put.status, 200);
  const m4 = makeMember({ name: 'm4', clientPort, peerPort, dataDir: path.join(root, 'm4.etcd') }, [
    '--initial-cluster', `${c.initialCluster},m4=${peerUrl}`, '--initial-cluster-token', c.token,
    '--initial-cluster-state', 'existing', ...FLAGS,
  ]);
  t.after(() => m4.kill('SIGTERM'));
  m4.start();
  await waitFor('m4 catches up', WAIT_MS, async () => {
    const v = await rangeAll(m4.url, true);
    return v.kvs.some((kv) => kv.key === 'before-join') ? true : undefined;
  });
  // Promote (through a follower) once the leader sees it in sync (LearnerNotReady until then).
  const promoted = await waitFor('m4 promoted', WAIT_MS, async () => {
    const r = await post(follower.url, '/v3/cluster/member/promote', { ID: m4Id });
    if (r.status === 200) return r.body;
    assert.equal(r.body.message, 'etcdserver: can only promote a learner member which is in sync with leader');
    return undefined;
  });
  const m4Listed = (promoted.members as MemberJson[]).find((x) => x.ID === m4Id);
  assert.ok(m4Listed && m4Listed.isLearner === undefined, JSON.stringify(promoted));
  await waitFor('m4 published its name', WAIT_MS, async () => {
    const l = await memberList(m1.url);
    return l.members.some((x) => x.ID === m4Id && x.name === 'm4' && x.clientURLs?.[0] === m4.url) ? true : undefined;
  });
  const clusterIds = await Promise.all([...c.members, m4].map(async (m) => (await memberList(m.url)).clusterId));
  assert.equal(new Set(clusterIds).size, 1, `one cluster id: ${clusterIds.join(' ')}`);

  // Move leadership to m4, by name.
  const moved = await post(leader.url, '/v3/maintenance/transfer-leadership', { targetID: m4Id });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.deepEqual(moved.body, {});
  const all = [...c.members, m4];
  assert.equal(((await agreedLeader(all, WAIT_MS)).m).name, 'm4');

  // Remove a follower other than m4: the list shrinks everywhere and the removed member stops.
  const gone = [m1, m2, m3].find((m) => m !== leader)!;
  const goneId = (await status(gone.url)).memberId;
  const removed = await post(m4.url, '/v3/cluster/member/remove', { ID: goneId });
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  assert.equal((removed.body.members as MemberJson[]).length, 3);
  await waitFor(`${gone.name} stops by itself`, WAIT_MS, async () => (gone.running() ? undefined : true));
  const rest = all.filter((m) => m !== gone);
  for (const m of rest) {
    await waitFor(`${m.name} lists 3 members`, WAIT_MS, async () => ((await memberList(m.url)).members.length === 3 ? true : undefined));
  }
  const after = await post(rest[0]!.url, '/v3/kv/put', { key: b64('after-remove'), value: b64('v') });
  assert.equal(after.status, 200, JSON.stringify(after.body));
});

/**
 * A membership change, retried while leadership moves (a request can time out then); `done` is
 * the error that says an earlier attempt was applied after all.
 */
async function change(url: string, route: string, body: unknown, done: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return waitFor(`${route} ${JSON.stringify(body)}`, WAIT_MS, async () => {
    const r = await post(url, route, body);
    return r.status === 200 || r.body.message === done ? r : undefined;
  });
}

/** Adds a member through `via` and starts it with --initial-cluster-state existing. */
async function join(
  t: { after(fn: () => Promise<void> | void): void }, c: Cluster, via: ClusterMember, name: string, root: string, used: number[],
  current: ClusterMember[],
): Promise<ClusterMember> {
  const clientPort = await freePort(used);
  used.push(clientPort);
  const peerPort = await freePort(used);
  used.push(peerPort);
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const r = await change(via.url, '/v3/cluster/member/add', { peerURLs: [peerUrl] }, 'etcdserver: member ID already exist');
  if (r.status === 200) assert.equal((r.body.member as MemberJson).isLearner, undefined);
  // The current members plus the new one, as etcd requires (the cluster id comes from the peers).
  const initialCluster = [...current.map((x) => `${x.name}=${x.peerUrl}`), `${name}=${peerUrl}`].join(',');
  const m = makeMember({ name, clientPort, peerPort, dataDir: path.join(root, `${name}.etcd`) }, [
    '--initial-cluster', initialCluster, '--initial-cluster-token', c.token,
    '--initial-cluster-state', 'existing', ...FLAGS,
  ]);
  t.after(() => m.kill('SIGTERM'));
  m.start();
  await waitFor(`${name} serves`, WAIT_MS, async () => ((await rangeAll(m.url, true)).revision > 1 ? true : undefined));
  return m;
}

test('grow 3 to 5 voters and shrink back to 3, writing all along', { timeout: 90_000 }, async (t) => {
  const c = await startCluster({ t, args: FLAGS });
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tetcd-grow-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const used = c.members.flatMap((m) => [m.clientPort, m.peerPort]);
  let n = 0;
  const write = async (url: string): Promise<void> => {
    n += 1;
    // Retried (the same put again is harmless): a removed leader leaves the others electing.
    await waitFor(`put k${n}`, WAIT_MS, async () =>
      ((await post(url, '/v3/kv/put', { key: b64(`k${n}`), value: b64(`v${n}`) })).status === 200 ? true : undefined));
  };
  await write(c.members[0]!.url);
  const m4 = await join(t, c, c.members[1]!, 'm4', root, used, c.members);
  await write(c.members[2]!.url);
  const m5 = await join(t, c, c.members[0]!, 'm5', root, used, [...c.members, m4]);
  const all = [...c.members, m4, m5];
  await write(m4.url);
  for (const m of all) {
    await waitFor(`${m.name} lists 5 voters`, WAIT_MS, async () => {
      const l = await memberList(m.url);
      return l.members.length === 5 && l.members.every((x) => x.isLearner === undefined && x.name) ? true : undefined;
    });
  }
  // Every member holds every write once it has applied the last one.
  await write(m5.url);
  for (const m of all) {
    await waitFor(`${m.name} has all ${n} keys`, WAIT_MS, async () => ((await rangeAll(m.url, true)).kvs.length === n ? true : undefined));
  }
  // Shrink back: remove two of the founders, one at a time.
  for (const gone of [c.members[0]!, c.members[1]!]) {
    const id = (await status(gone.url)).memberId;
    await change(m5.url, '/v3/cluster/member/remove', { ID: id }, 'etcdserver: member not found');
    await waitFor(`${gone.name} stops by itself`, WAIT_MS, async () => (gone.running() ? undefined : true));
    await write(m4.url);
  }
  const rest = [c.members[2]!, m4, m5];
  (await agreedLeader(rest, WAIT_MS)).m;
  for (const m of rest) {
    await waitFor(`${m.name} lists 3 members and has all ${n} keys`, WAIT_MS, async () =>
      (await memberList(m.url)).members.length === 3 && (await rangeAll(m.url, true)).kvs.length === n ? true : undefined);
  }
});

// ---- the pure rules (src/server/membership.ts), no processes ----

const TOKEN = 'tok';
const A = 'http://127.0.0.1:1001';
const B = 'http://127.0.0.1:1002';
const C = 'http://127.0.0.1:1003';
const idA = computeMemberId([A], TOKEN);
const idB = computeMemberId([B], TOKEN);
const idC = computeMemberId([C], TOKEN);
/** A started member (it published a client URL) unless `started` is false. */
const info = (id: bigint, url: string, isLearner = false, started = true): Info =>
  ({ id, name: '', peerURLs: [url], clientURLs: started ? ['http://127.0.0.1:9'] : [], isLearner });

test('planChange: etcd 3.4 rules and error order', () => {
  const members = [info(idA, A), info(idB, B, true)];
  const plan = (r: Parameters<typeof planChange>[0], progress?: Map<bigint, { match: number }>) =>
    planChange(r, { members, clusterToken: TOKEN, leaderId: idA, strict: true, ...(progress ? { progress } : {}) });
  assert.deepEqual(plan({ kind: 'add', peerURLs: [], isLearner: false }), { error: 'MemberBadURLs' });
  assert.deepEqual(plan({ kind: 'add', peerURLs: ['http://127.0.0.1'], isLearner: false }), { error: 'MemberBadURLs' });
  assert.deepEqual(plan({ kind: 'add', peerURLs: [A], isLearner: false }), { error: 'MemberExist' });
  assert.deepEqual(plan({ kind: 'add', peerURLs: [C, B], isLearner: false }), { error: 'PeerURLExist' });
  assert.deepEqual(plan({ kind: 'add', peerURLs: [C], isLearner: true }), { error: 'TooManyLearners' });
  const add = plan({ kind: 'add', peerURLs: [C], isLearner: false });
  assert.ok('cc' in add && add.cc.type === ConfChangeType.AddNode && add.cc.nodeId === idC);
  assert.deepEqual(plan({ kind: 'remove', id: idC }), { error: 'MemberNotFound' });
  assert.deepEqual(plan({ kind: 'update', id: idA, peerURLs: [B] }), { error: 'PeerURLExist' });
  assert.ok('cc' in plan({ kind: 'update', id: idA, peerURLs: [A, C] }));
  assert.deepEqual(plan({ kind: 'promote', id: idA }), { error: 'MemberNotLearner' });
  assert.deepEqual(plan({ kind: 'promote', id: idB }), { error: 'LearnerNotReady' });
  assert.deepEqual(plan({ kind: 'promote', id: idB }, new Map([[idA, { match: 100 }], [idB, { match: 89 }]])), { error: 'LearnerNotReady' });
  const promote = plan({ kind: 'promote', id: idB }, new Map([[idA, { match: 100 }], [idB, { match: 90 }]]));
  assert.ok('cc' in promote && promote.cc.type === ConfChangeType.AddNode && promote.cc.nodeId === idB);
  // --strict-reconfig-check: the started voters must stay a quorum of the new configuration.
  const three = [info(idA, A), info(idB, B, false, false), info(idC, C, false, false)];
  const strict = (r: Parameters<typeof planChange>[0], on = true) => planChange(r, { members: three, clusterToken: TOKEN, leaderId: idA, strict: on });
  assert.deepEqual(strict({ kind: 'add', peerURLs: ['http://127.0.0.1:1004'], isLearner: false }), { error: 'MemberNotEnoughStarted' });
  assert.ok('cc' in strict({ kind: 'add', peerURLs: ['http://127.0.0.1:1004'], isLearner: false }, false));
  assert.ok('cc' in strict({ kind: 'add', peerURLs: ['http://127.0.0.1:1004'], isLearner: true }));
  assert.deepEqual(strict({ kind: 'remove', id: idA }), { error: 'MemberNotEnoughStarted' });
  const twoOfThree = [info(idA, A), info(idB, B), info(idC, C, false, false)];
  assert.ok('cc' in planChange({ kind: 'remove', id: idC }, { members: twoOfThree, clusterToken: TOKEN, leaderId: idA, strict: true }));
  assert.deepEqual(planChange({ kind: 'remove', id: idA }, { members: twoOfThree, clusterToken: TOKEN, leaderId: idA, strict: true }), { error: 'MemberNotEnoughStarted' });
});

test('attributes: context round trip, foreign contexts ignored, removal forgets', () => {
  const ctx: ConfContext = { req: 'r1', name: 'n', peerURLs: [A], clientURLs: [B] };
  assert.deepEqual(decodeContext(encodeContext(ctx)), ctx);
  assert.deepEqual(decodeContext(new TextEncoder().encode('[1]')), {});
  assert.deepEqual(decodeContext(new TextEncoder().encode('{"name":5}')), {});
  assert.deepEqual(decodeContext(new Uint8Array([0xff])), {});
  const attrs = new Map<bigint, ConfContext>();
  applyAttrs(attrs, { type: ConfChangeType.AddLearnerNode, nodeId: idA, context: encodeContext({ peerURLs: [A] }) });
  applyAttrs(attrs, { type: ConfChangeType.UpdateNode, nodeId: idA, context: encodeContext({ name: 'a', clientURLs: [C] }) });
  assert.deepEqual(listMembers({ voters: [], learners: [idA] }, attrs), [{ id: idA, name: 'a', peerURLs: [A], clientURLs: [C], isLearner: true }]);
  applyAttrs(attrs, { type: ConfChangeType.RemoveNode, nodeId: idA, context: new Uint8Array() });
  assert.equal(attrs.size, 0);
  assert.ok(validPeerUrls([A, 'https://h:1']) && !validPeerUrls(['unix:///x']) && !validPeerUrls(['http://h:1/p']));
});
