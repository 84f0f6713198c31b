// Linearizability of one real tetcd member: 4 concurrent clients do random puts, linearizable
// gets and compare-and-swaps (a txn comparing VALUE, then putting) on 3 keys over the JSON API,
// for a bounded number of ops; halfway through the member is killed with SIGKILL and restarted
// on its data dir. Requests in flight at the kill get no answer (maybe applied). The recorded
// history must check as linearizable, revisions included.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { startTetcd, tetcdMissingReason, type ServerHandle } from '../helpers/servers.js';
import { checkHistory } from './checker.js';
import { randomKvOp, rng } from './generate.js';
import { Recorder, recordedOp } from './record.js';

const CLIENTS = 4;
const KEYS = 3;
/** Answered ops over all clients after which the clients stop... */
const OPS_ANSWERED = 600;
/** ... or invoked ops (while the member is down, requests are refused quickly). */
const OPS_INVOKED_MAX = 3000;
/** The member is killed once this many ops have been invoked. */
const KILL_AT_OPS = 300;
/** A client's pause after a request without an answer (the member may be down). */
const RETRY_PAUSE_MS = 50;

test('single member: concurrent puts, gets and CAS across a kill -9 are linearizable', { skip: tetcdMissingReason(), timeout: 180_000 }, async (t) => {
  let server: ServerHandle = await startTetcd({ t, name: 'lin' });
  const url = server.url;
  const rec = new Recorder();
  let invoked = 0;
  let answered = 0;
  let restarted: Promise<void> | undefined;
  let restartedAtMs = Infinity;
  const crash = async (): Promise<void> => {
    await server.kill('SIGKILL');
    server = await startTetcd({ t, name: 'lin', dataDir: server.dataDir, clientPort: server.clientPort, peerPort: server.peerPort });
    restartedAtMs = performance.now();
  };
  await Promise.all(Array.from({ length: CLIENTS }, async (_, client) => {
    const rand = rng(1000 + client);
    const lastSeen = new Map<string, string>();
    for (let n = 0; answered < OPS_ANSWERED && invoked < OPS_INVOKED_MAX; n++) {
      if (invoked >= KILL_AT_OPS && restarted === undefined) restarted = crash();
      invoked++;
      const op = randomKvOp(rand, client, n, lastSeen, KEYS);
      const r = await recordedOp(rec, client, url, op);
      if (r !== undefined) answered++;
      if (r === undefined) await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      else if (r.kind === 'get' && r.value !== undefined) lastSeen.set(op.key, r.value);
      else if (op.kind !== 'get' && (r.kind === 'put' || (r.kind === 'cas' && r.succeeded))) lastSeen.set(op.key, op.value);
    }
  }));
  await restarted;
  const history = rec.history();
  const unanswered = history.filter((h) => h.result === undefined).length;
  const result = checkHistory(history);
  assert.equal(result.outcome, 'ok', result.outcome === 'violation' ? result.violation.report : JSON.stringify(result));
  const afterRestart = history.filter((h) => h.result !== undefined && h.call > restartedAtMs).length;
  t.diagnostic(`${history.length} ops recorded, ${unanswered} without an answer, ${afterRestart} answered after the restart`);
  assert.ok(answered >= OPS_ANSWERED, 'the clients got their answers');
  assert.ok(afterRestart > 0, 'the restarted member served the clients');
  // The check is not vacuous: the same history with one read answer changed fails.
  const victim = history.find((h) => h.result?.kind === 'get' && h.call > restartedAtMs);
  assert.ok(victim?.result?.kind === 'get');
  victim.result = { ...victim.result, value: 'never-written' };
  assert.equal(checkHistory(history).outcome, 'violation');
});
