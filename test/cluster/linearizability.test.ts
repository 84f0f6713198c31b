// Linearizability of a 3-member cluster under leader crashes: CLIENTS concurrent clients do
// random puts, linearizable gets and compare-and-swaps (a txn comparing VALUE, then putting) on
// KEYS keys over the JSON API, each op sent to a different member than the client's last one,
// while a nemesis kills the current leader with SIGKILL and restarts it, KILLS times. Every op
// is recorded with its invocation and completion time (test/linearizability/record.ts): an op
// without an answer (connection reset, error answer, timeout) is maybe-applied; one refused
// before it reached a member (the member is down) is forgotten. The history must check as
// linearizable with revisions (checkHistory: "unknown" fails too), and at the end every member
// reports the same hashkv at one revision.
//
// Checkability: each client has one op in flight, so a kill leaves at most CLIENTS unanswered
// writes, spread over KEYS keys; the clients stop after OPS_INVOKED_MAX ops or when the nemesis
// is done, whichever comes first, which bounds the history (and the test's time) either way.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import test from 'node:test';
import { checkHistory } from '../linearizability/checker.js';
import { randomKvOp, rng } from '../linearizability/generate.js';
import { hashKvOf } from '../linearizability/hashkv.js';
import { Recorder, recordedOp } from '../linearizability/record.js';
import { b64, post, sleep, startCluster, status, waitFor } from '../helpers/cluster.js';
import type { Cluster, ClusterMember } from '../helpers/cluster.js';

const ELECTION_TIMEOUT_MS = 500;
const FLAGS = ['--heartbeat-interval', '50', '--election-timeout', String(ELECTION_TIMEOUT_MS), '--snapshot-count', '500'];
const CLIENTS = 6;
const KEYS = 6;
/** Leader kills (each followed by a restart of the killed member). */
const KILLS = 2;
/** Ops invoked over all clients before they stop (bounds the history for the checker). */
const OPS_INVOKED_MAX = 6000;
/** Load before the first kill, between a kill and the restart, and after the restart. */
const CALM_MS = 2500;
const DOWN_MS = 1500;
/** A client's pause after an op without an answer (its member may be down). */
const RETRY_PAUSE_MS = 50;
const LEADER_TIMEOUT_MS = 10_000;
const CONVERGE_TIMEOUT_MS = 20_000;

/** The running member that every running member names as leader. */
async function currentLeader(c: Cluster): Promise<ClusterMember> {
  return waitFor('one leader agreed on by the running members', LEADER_TIMEOUT_MS, async () => {
    const running = c.members.filter((m) => m.running());
    const seen = await Promise.all(running.map((m) => status(m.url)));
    const lead = seen[0]!.leader;
    if (lead === '0' || !seen.every((s) => s.leader === lead)) return undefined;
    return running[seen.findIndex((s) => s.memberId === lead)];
  });
}

interface Run {
  rec: Recorder;
  invoked: number;
  answered: number;
  stopping: boolean;
}

/** One client: ops round-robin over the members until the run stops. */
async function client(c: Cluster, run: Run, id: number): Promise<void> {
  const rand = rng(7000 + id);
  const lastSeen = new Map<string, string>();
  for (let n = 0; !run.stopping && run.invoked < OPS_INVOKED_MAX; n++) {
    const m = c.members[(id + n) % c.members.length]!;
    run.invoked++;
    const op = randomKvOp(rand, id, n, lastSeen, KEYS);
    const r = await recordedOp(run.rec, id, m.url, op);
    if (r === undefined) {
      await sleep(RETRY_PAUSE_MS);
      continue;
    }
    run.answered++;
    if (r.kind === 'get' && r.value !== undefined) lastSeen.set(op.key, r.value);
    else if (op.kind !== 'get' && (r.kind === 'put' || (r.kind === 'cas' && r.succeeded))) lastSeen.set(op.key, op.value);
  }
}

/** Kills the leader KILLS times, restarting it each time; returns when the cluster is whole. */
async function nemesis(c: Cluster, log: (s: string) => void): Promise<number[]> {
  const restartedAtMs: number[] = [];
  await sleep(CALM_MS);
  for (let k = 0; k < KILLS; k++) {
    const leader = await currentLeader(c);
    await leader.kill('SIGKILL');
    log(`kill ${k + 1}: ${leader.name} (the leader) killed`);
    await sleep(DOWN_MS);
    leader.start();
    await c.waitHealthy();
    restartedAtMs.push(performance.now());
    await sleep(CALM_MS);
  }
  return restartedAtMs;
}

/** Every member reports the same hashkv at `revision` (retried while some are behind). */
async function assertSameHashKv(c: Cluster, revision: number): Promise<void> {
  const hashes = await waitFor(`every member's hashkv at ${revision}`, CONVERGE_TIMEOUT_MS, async () => {
    const all = await Promise.all(c.members.map((m) => hashKvOf(m.url, revision)));
    return all.map((h) => h.hash);
  });
  assert.ok(hashes.every((h) => h === hashes[0]), `hashkv at ${revision} differs: ${hashes.join(', ')}`);
}

test('3 members: puts, gets and CAS through every member across leader kills are linearizable', { timeout: 120_000 }, async (t) => {
  const c = await startCluster({ t, args: FLAGS });
  const run: Run = { rec: new Recorder(), invoked: 0, answered: 0, stopping: false };
  const clients = Array.from({ length: CLIENTS }, (_, id) => client(c, run, id));
  let restartedAtMs: number[];
  try {
    restartedAtMs = await nemesis(c, (s) => t.diagnostic(s));
  } finally {
    run.stopping = true;
    await Promise.all(clients);
  }
  const history = run.rec.history();
  const unanswered = history.filter((h) => h.result === undefined);
  const startedAt = performance.now();
  const result = checkHistory(history);
  t.diagnostic(`${history.length} ops recorded, ${run.answered} answered, ${unanswered.length} without an answer `
    + `(${unanswered.filter((h) => h.op.kind !== 'get').length} maybe-applied writes); checked in ${Math.round(performance.now() - startedAt)} ms`);
  assert.equal(result.outcome, 'ok', result.outcome === 'violation' ? result.violation.report : JSON.stringify(result));
  const lastRestart = restartedAtMs.at(-1) ?? Infinity;
  assert.ok(history.some((h) => h.result !== undefined && h.call > lastRestart), 'ops were answered after the last restart');
  assert.ok(unanswered.length < history.length / 2, 'most ops got an answer');

  // Every member ends with the same KV history.
  const last = await post(c.members[0]!.url, '/v3/kv/put', { key: b64('lin/end'), value: b64('end') });
  assert.equal(last.status, 200, JSON.stringify(last.body));
  await assertSameHashKv(c, Number((last.body.header as { revision: string }).revision));

  // The check is not vacuous: the same history with one read answer changed fails.
  const victim = history.find((h) => h.result?.kind === 'get' && h.result.value !== undefined && h.call > lastRestart);
  assert.ok(victim?.result?.kind === 'get');
  victim.result = { ...victim.result, value: 'never-written' };
  assert.equal(checkHistory(history).outcome, 'violation');
});
