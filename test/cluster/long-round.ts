// One round of the long randomized cluster run (long.ts): clients (long-ops.ts) and nemesis lanes
// (long-faults.ts) run together for ROUND_MS or until the op bound; then every fault is healed
// and the round must pass, in this order:
//   1. no member crashed (down without the nemesis having killed it), every lane's member came
//      back within RECOVER_TIMEOUT_MS, and the whole cluster turns healthy;
//   2. a barrier write succeeds and every member reports the same hashkv at its revision;
//   3. the history checks ok (checkHistory per key with the global revision checks; "unknown",
//      a spent search budget, fails the round too), and the check is not vacuous: the same
//      history with one read answer changed must fail.
// The round is bounded as a whole (ROUND_SLACK_MS past its load time): past it, it is a hang.
// Every failure becomes an outcome with a detail; saveFailure keeps the evidence on disk.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkHistory } from '../linearizability/checker.js';
import { rng } from '../linearizability/generate.js';
import { hashKvOf } from '../linearizability/hashkv.js';
import type { HistoryOp } from '../linearizability/history.js';
import { b64, post } from '../helpers/kv-client.js';
import { sleep, waitFor, type Cluster } from '../helpers/cluster.js';
import { RECOVER_TIMEOUT_MS, crashed, fatalLines, healAll, lanesFor, runLane, type FaultEvent, type Nemesis } from './long-faults.js';
import { TOMBSTONE, checkableHistory, newLoad, roundKeys, runClient, unansweredWrites, type Load } from './long-ops.js';

/** Time a round may take past its load time (recoveries, health, hashkv, the check) before it is a hang. */
const ROUND_SLACK_MS = 240_000;
/** Load kept on the healed cluster after the faults stop, before the clients stop. */
const TAIL_MS = 1_000;
const LOAD_POLL_MS = 100;
/** Bounds for the start-of-round read and the end-of-round barrier and hashkv agreement. */
const SETTLE_TIMEOUT_MS = 60_000;

export interface LongConfig {
  rounds: number;
  seed: number;
  firstRound: number;
  members: number;
  timeS: number;
  roundMs: number;
  opsMax: number;
  clients: number;
  keys: number;
  fresh: boolean;
  snapshotCount: number;
  verbose: boolean;
  keepGoing: boolean;
}

export type Outcome = 'ok' | 'violation' | 'unknown' | 'vacuous' | 'diverged' | 'crash' | 'stuck' | 'hang' | 'error';

export interface RoundStats {
  round: number;
  seed: number;
  ops: number;
  answered: number;
  maybeWrites: number;
  deletes: number;
  /** Writes without an answer: they may still land during the next round. */
  unansweredWrites: number;
  faults: FaultEvent[];
  /** The barrier write's revision (every member hashed the same there); 0 if not reached. */
  revision: number;
  checkMs: number;
  wallMs: number;
  outcome: Outcome;
  detail: string;
  /** The history that was checked (kept for saveFailure). */
  history: HistoryOp[];
}

class RoundFailure extends Error {
  constructor(readonly outcome: Outcome, message: string) {
    super(message);
  }
}

/** A round's seed from the run's seed and the round number (so one round replays alone). */
export function roundSeed(seed: number, round: number): number {
  assert.ok(Number.isSafeInteger(seed) && Number.isSafeInteger(round), 'integer seed and round');
  return (Math.imul((seed ^ 0x5bd1e995) >>> 0, 0x9e3779b1) + Math.imul(round, 0x85ebca6b)) >>> 0;
}

export async function runRound(c: Cluster, n: Nemesis, cfg: LongConfig, round: number, strays: number): Promise<RoundStats> {
  const startMs = performance.now();
  const seed = roundSeed(cfg.seed, round);
  const load = newLoad(cfg.opsMax);
  const firstEvent = n.events.length;
  const s: RoundStats = {
    round, seed, ops: 0, answered: 0, maybeWrites: 0, deletes: 0, unansweredWrites: 0, faults: [],
    revision: 0, checkMs: 0, wallMs: 0, outcome: 'ok', detail: '', history: [],
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RoundFailure('hang', `round not done ${cfg.roundMs + ROUND_SLACK_MS} ms after its start`)), cfg.roundMs + ROUND_SLACK_MS);
  });
  try {
    await Promise.race([roundBody(c, n, cfg, { round, seed, load, strays }, s), deadline]);
  } catch (err) {
    s.outcome = err instanceof RoundFailure ? err.outcome : 'error';
    s.detail = err instanceof RoundFailure ? err.message : String(err instanceof Error ? err.stack : err);
  } finally {
    clearTimeout(timer);
  }
  const history = load.rec.history();
  if (s.history.length === 0) s.history = history;
  s.ops = history.length;
  s.answered = load.answered;
  s.maybeWrites = history.filter((h) => h.result === undefined && h.op.kind !== 'get').length;
  s.deletes = load.deletes;
  s.unansweredWrites = unansweredWrites(load);
  s.faults = n.events.slice(firstEvent);
  s.wallMs = Math.round(performance.now() - startMs);
  return s;
}

interface RoundInput {
  round: number;
  seed: number;
  load: Load;
  strays: number;
}

async function roundBody(c: Cluster, n: Nemesis, cfg: LongConfig, r: RoundInput, s: RoundStats): Promise<void> {
  const prefix = `long/r${r.round}/`;
  const initialRevision = await currentRevision(c, prefix);
  await driveLoad(c, n, cfg, r, prefix);
  await settle(c, n);
  s.revision = await sameHashKv(c, `${prefix}end`);
  s.history = checkableHistory(r.load, r.strays, `${prefix}stray`);
  const initialValues = Object.fromEntries(roundKeys(prefix, cfg.keys).map((k) => [k, TOMBSTONE]));
  const checkStartMs = performance.now();
  const result = checkHistory(s.history, { initialRevision, initialValues });
  s.checkMs = Math.round(performance.now() - checkStartMs);
  if (result.outcome === 'violation') throw new RoundFailure('violation', result.violation.report);
  if (result.outcome === 'unknown') throw new RoundFailure('unknown', result.reason);
  // Not vacuous: one read answer changed must fail the same check.
  const victim = s.history.findIndex((h) => h.result?.kind === 'get' && h.result.value !== TOMBSTONE);
  if (victim >= 0) {
    const broken = s.history.map((h, i) => (i === victim && h.result?.kind === 'get' ? { ...h, result: { ...h.result, value: 'never-written' } } : h));
    const again = checkHistory(broken, { initialRevision, initialValues });
    if (again.outcome !== 'violation') throw new RoundFailure('vacuous', `a changed read still checks ${again.outcome}`);
  }
}

/** The store revision now (a linearizable read through any member that answers). */
async function currentRevision(c: Cluster, prefix: string): Promise<number> {
  return waitFor('a linearizable read at the round start', SETTLE_TIMEOUT_MS, async () => {
    for (const m of c.members) {
      const a = await post(m.url, '/v3/kv/range', { key: b64(prefix) }).catch(() => undefined);
      if (a?.status === 200) return Number(a.body.header.revision);
    }
    return undefined;
  });
}

/** Clients and lanes together until the load time or op bound; returns with every fault healed. */
async function driveLoad(c: Cluster, n: Nemesis, cfg: LongConfig, r: RoundInput, prefix: string): Promise<void> {
  const urls = c.members.map((m) => m.url);
  const clients = Array.from({ length: cfg.clients }, (_, i) => runClient(r.load, i, rng(r.seed ^ Math.imul(i + 1, 0x27d4eb2d)), urls, prefix, cfg.keys));
  n.stopping = false;
  const log = (e: FaultEvent): void => {
    if (cfg.verbose) process.stderr.write(`  r${r.round} lane ${e.lane}: ${e.kind} ${e.member} hold ${e.holdMs} ms, ${e.note}\n`);
  };
  const lanes = Array.from({ length: lanesFor(cfg.members) }, (_, l) => runLane(n, l, rng(r.seed + 0x1000 * (l + 1)), log));
  const endMs = Date.now() + cfg.roundMs;
  // A crash ends the load early: the round has failed, and the evidence is freshest now.
  while (Date.now() < endMs && r.load.invoked < r.load.opsMax && crashed(n).length === 0) await sleep(LOAD_POLL_MS);
  n.stopping = true;
  const laneOutcomes = await Promise.allSettled(lanes);
  await sleep(TAIL_MS);
  r.load.stopping = true;
  await Promise.all(clients);
  assertNoCrash(n);
  healAll(n);
  const stuck = laneOutcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (stuck !== undefined) throw new RoundFailure('stuck', `a hurt member did not recover: ${String(stuck.reason)}`);
}

/** Throws 'crash' with the fatal log lines when a member is down without the nemesis having killed it. */
function assertNoCrash(n: Nemesis): void {
  const down = crashed(n);
  if (down.length === 0) return;
  const lines = down.flatMap((m) => [`${m.name} is down without being killed; its last fatal log lines:`, ...fatalLines(m).map((l) => `  ${l}`)]);
  throw new RoundFailure('crash', lines.join('\n'));
}

/** No member crashed, and the whole cluster turns healthy. */
async function settle(c: Cluster, n: Nemesis): Promise<void> {
  assertNoCrash(n);
  try {
    await c.waitHealthy(RECOVER_TIMEOUT_MS);
  } catch (err) {
    throw new RoundFailure('stuck', `the healed cluster did not turn healthy: ${String(err).slice(0, 2000)}`);
  }
}

/** A barrier write at `key`, then every member's hashkv at its revision: they must agree. */
async function sameHashKv(c: Cluster, key: string): Promise<number> {
  const revision = await waitFor('the barrier write', SETTLE_TIMEOUT_MS, async () => {
    for (const m of c.members) {
      const a = await post(m.url, '/v3/kv/put', { key: b64(key), value: b64('end') }).catch(() => undefined);
      if (a?.status === 200) return Number(a.body.header.revision);
    }
    return undefined;
  });
  const hashes = await waitFor(`every member's hashkv at ${revision}`, SETTLE_TIMEOUT_MS, async () => {
    const all = await Promise.all(c.members.map((m) => hashKvOf(m.url, revision)));
    return all.map((h) => h.hash);
  }).catch((err: unknown) => {
    throw new RoundFailure('stuck', String(err));
  });
  if (!hashes.every((h) => h === hashes[0])) {
    throw new RoundFailure('diverged', `hashkv at ${revision} differs: ${c.members.map((m, i) => `${m.name}=${hashes[i]}`).join(' ')}`);
  }
  return revision;
}

/** Writes the report, the history and every member's log tail to a kept directory; returns it. */
export function saveFailure(c: Cluster, s: RoundStats): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tetcd-long-fail-r${s.round}-`));
  const faults = s.faults.map((e) => `lane ${e.lane}: ${e.kind} ${e.member} hold ${e.holdMs} ms, ${e.note}`);
  fs.writeFileSync(path.join(dir, 'report.txt'), [`round ${s.round} seed ${s.seed}: ${s.outcome}`, s.detail, '', 'faults:', ...faults, ''].join('\n'));
  fs.writeFileSync(path.join(dir, 'history.json'), JSON.stringify(s.history));
  for (const m of c.members) fs.writeFileSync(path.join(dir, `${m.name}.log`), m.output());
  return dir;
}
