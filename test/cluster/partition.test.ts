// A partitioned leader: in a 3-member cluster of real tetcd processes, the leader's peer traffic
// is cut with the "peer traffic blocked" failpoint (TETCD_FAILPOINTS=1, SIGUSR2: see
// src/cli/tetcd.ts) while it keeps serving clients. The majority elects a new leader and keeps
// serving writes and linearizable reads; the old leader refuses linearizable reads and writes
// with etcd's errors instead of serving stale data (a serializable read is served, stale); after
// healing (a second SIGUSR2) it rejoins as a follower and every member reports the same hashkv.
//
// While cut off, the majority writes enough to compact its log past the old leader's, so that
// the old leader catches up through a snapshot: a watch opened on it before the cut must still
// get every revision, in order, once (the hub re-reads what the restored store skipped).
//
// What etcd 3.4 answers on a member cut off from the quorum (measured: 3 members, two killed):
// a linearizable range gets 503 {"error":"etcdserver: request timed out","code":14} once its
// request timeout passes; tetcd answers 503 "etcdserver: no leader" (code 14) as soon as the
// member has stepped down (check-quorum), which etcd also uses for leaderless members. Both are
// accepted here; a client-side timeout is not stale data either but does not count as a refusal.

import assert from 'node:assert/strict';
import test from 'node:test';
import { hashKvOf } from '../linearizability/hashkv.js';
import { eventsOf, openHttpWatch } from '../watch/client.js';
import { agreedLeader, assertIsolatedRefuses, b64, getKey, putKey, startCluster, status, waitFor } from '../helpers/cluster.js';
import type { Cluster } from '../helpers/cluster.js';

const ELECTION_TIMEOUT_MS = 500;
/** --snapshot-count 100 keeps 100 entries behind each snapshot (see cluster.test.ts). */
const FLAGS = ['--heartbeat-interval', '50', '--election-timeout', String(ELECTION_TIMEOUT_MS), '--snapshot-count', '100'];
/** Writes by the majority while the old leader is cut off: enough to compact past its log. */
const WRITES_DURING_CUT = 400;
const WRITERS = 4;
/** Deadlines (in election timeouts) for a new leader and for the old one to refuse reads. */
const ELECTION_TIMEOUTS_MAX = 10;
const CONVERGE_TIMEOUT_MS = 20_000;

/** Every member reports the same hashkv at `revision` (retried while some are behind). */
async function assertSameHashKv(c: Cluster, revision: number): Promise<number> {
  const hashes = await waitFor(`every member's hashkv at ${revision}`, CONVERGE_TIMEOUT_MS, async () => {
    const all = await Promise.all(c.members.map((m) => hashKvOf(m.url, revision)));
    return all.map((h) => h.hash);
  });
  assert.ok(hashes.every((h) => h === hashes[0]), `hashkv at ${revision} differs: ${hashes.join(', ')}`);
  return hashes[0]!;
}

test('an isolated leader refuses linearizable reads; the majority carries on; after healing it rejoins', { timeout: 120_000 }, async (t) => {
  process.env.TETCD_FAILPOINTS = '1'; // inherited by the members started below
  const c = await startCluster({ t, args: FLAGS });
  const { m: old, id: oldId } = await agreedLeader(c.members, ELECTION_TIMEOUTS_MAX * ELECTION_TIMEOUT_MS, undefined, c.members);
  const majority = c.members.filter((m) => m !== old);
  const watchFrom = await putKey(old.url, 'p/k', 'before');
  for (const m of c.members) assert.equal((await getKey(m.url, 'p/k', false)).value, 'before');
  const watch = openHttpWatch(old.url, [{ create_request: { key: b64('p/'), range_end: b64('p0'), start_revision: watchFrom + 1 } }]);
  t.after(() => watch.close());
  await waitFor('the watch created', 10_000, async () => (watch.responses.some((r) => r.created === true) ? true : undefined));

  assert.ok(old.signal('SIGUSR2'), 'the leader is running');
  const cutAtMs = Date.now();
  const { m: fresh, id: freshId } = await agreedLeader(majority, ELECTION_TIMEOUTS_MAX * ELECTION_TIMEOUT_MS, oldId, c.members);
  t.diagnostic(`new leader ${fresh.name} agreed on ${Date.now() - cutAtMs} ms after the cut (election timeout ${ELECTION_TIMEOUT_MS} ms)`);
  assert.ok(majority.includes(fresh));

  // The majority serves writes and linearizable reads, through either member.
  for (const [i, m] of majority.entries()) {
    await putKey(m.url, 'p/k', `after-${i}`);
    for (const r of majority) assert.equal((await getKey(r.url, 'p/k', false)).value, `after-${i}`);
  }
  const lastWritten = `after-${majority.length - 1}`;
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    for (let n = w; n < WRITES_DURING_CUT; n += WRITERS) await putKey(majority[n % majority.length]!.url, `p/s/${n}`, `x${n}`);
  }));

  const refusal = await assertIsolatedRefuses(old, 'p', freshId, ELECTION_TIMEOUTS_MAX * ELECTION_TIMEOUT_MS);
  t.diagnostic(`old leader refuses linearizable reads with "${refusal}"`);

  // Heal: the old leader follows the new one and catches up.
  assert.ok(old.signal('SIGUSR2'));
  await waitFor('the old leader following the new one', CONVERGE_TIMEOUT_MS, async () => ((await status(old.url)).leader === freshId ? true : undefined));
  assert.notEqual((await status(old.url)).memberId, freshId);
  assert.equal((await getKey(old.url, 'p/k', false)).value, lastWritten);
  const revision = await putKey(old.url, 'p/healed', 'yes');
  await assertSameHashKv(c, revision);
  for (const m of c.members) {
    assert.equal((await getKey(m.url, 'p/refused', true)).value, undefined, `${m.name} applied a write the isolated member refused`);
  }
  assert.match(old.output(), /failpoint: peer traffic blocked/);
  assert.match(old.output(), /failpoint: peer traffic unblocked/);
  assert.match(old.output(), /store restored from a snapshot/, 'the old leader caught up through a snapshot');
  // The watch on the old leader saw every revision since it started, once, in order.
  await waitFor('the watch on the old leader caught up', CONVERGE_TIMEOUT_MS, async () => {
    const seen = eventsOf(watch.responses);
    return Number(seen.at(-1)?.kv.mod_revision ?? 0) >= revision ? true : undefined;
  });
  const revisions = eventsOf(watch.responses).map((e) => Number(e.kv.mod_revision));
  const want = Array.from({ length: revision - watchFrom }, (_, i) => watchFrom + 1 + i);
  assert.deepEqual(revisions, want, 'every revision after the watch start, once, in order');
  assert.ok(!watch.responses.some((r) => r.canceled === true), 'the watch was not canceled');
});
