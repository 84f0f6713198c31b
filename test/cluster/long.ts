// The long randomized cluster run: rounds of client load under a random fault schedule against a
// real tetcd cluster, each round's history checked for linearizability and every member's
// hashkv compared. Not part of `npm test` (it runs for minutes):
//
//   CLUSTER_LONG_ROUNDS=20 CLUSTER_LONG_SEED=1 node --import tsx test/cluster/long.ts
//
// Environment (all optional): CLUSTER_LONG_ROUNDS (default 20), CLUSTER_LONG_SEED (default 1),
// CLUSTER_LONG_FIRST_ROUND (default 1; with ROUNDS=1 it replays one round's schedule),
// CLUSTER_LONG_MEMBERS (3 or 5), CLUSTER_LONG_TIME_S (no new round after this; default 3600),
// CLUSTER_LONG_ROUND_MS (load per round, default 15000), CLUSTER_LONG_OPS (ops per round at
// most, default 3000), CLUSTER_LONG_CLIENTS (5), CLUSTER_LONG_KEYS (4), CLUSTER_LONG_FRESH=1 (a
// new cluster per round), CLUSTER_LONG_SNAPSHOT_COUNT (300), CLUSTER_LONG_VERBOSE=1 (every fault),
// CLUSTER_LONG_KEEP_GOING=1 (after a failed round, go on with a fresh cluster; still exits 1).
//
// One cluster serves every round by default: state piles up across rounds (snapshots, compacted
// raft logs, members restarted over long WALs, terms in the hundreds), which is where a short
// test cannot reach; it also saves a cluster start (seconds of tsx compiling) per round. Rounds
// stay independent for the checker: round r uses keys under long/r<r>/, all absent at its start,
// and its initial revision is read (linearizably) once the previous round has healed.
// The previous round's unanswered writes may still take a revision during this round; they are
// added to this round's history as maybe-applied puts on a key of their own (long-ops.ts).
//
// A round (long-round.ts): clients (long-ops.ts) and the nemesis lanes (long-faults.ts) run for
// ROUND_MS or until OPS ops; then every fault is healed, the cluster must turn healthy, a barrier
// write's revision must hash the same on every member, and the history must check ok.
// Prints one line per round and a summary; on a failure it prints the seed, the replay command
// and a directory with the history, the report and every member's log tail, and exits 1.
// Ctrl-C (SIGINT) or SIGTERM: members are thawed and stopped, the temp dirs removed.

import { performance } from 'node:perf_hooks';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { healAll, lanesFor, newNemesis, type FaultKind, type Nemesis } from './long-faults.js';
import { runRound, saveFailure, type LongConfig, type RoundStats } from './long-round.js';

function envInt(name: string, fallback: number, min = 0): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
  return n;
}

function configFromEnv(): LongConfig {
  const members = envInt('CLUSTER_LONG_MEMBERS', 3, 3);
  if (members !== 3 && members !== 5) throw new Error(`CLUSTER_LONG_MEMBERS must be 3 or 5, got ${members}`);
  return {
    rounds: envInt('CLUSTER_LONG_ROUNDS', 20, 1),
    seed: envInt('CLUSTER_LONG_SEED', 1),
    firstRound: envInt('CLUSTER_LONG_FIRST_ROUND', 1, 1),
    members,
    timeS: envInt('CLUSTER_LONG_TIME_S', 3600, 1),
    roundMs: envInt('CLUSTER_LONG_ROUND_MS', 15_000, 1000),
    opsMax: envInt('CLUSTER_LONG_OPS', 3000, 10),
    clients: envInt('CLUSTER_LONG_CLIENTS', 5, 1),
    keys: envInt('CLUSTER_LONG_KEYS', 4, 1),
    fresh: process.env.CLUSTER_LONG_FRESH === '1',
    snapshotCount: envInt('CLUSTER_LONG_SNAPSHOT_COUNT', 300, 1),
    verbose: process.env.CLUSTER_LONG_VERBOSE === '1',
    keepGoing: process.env.CLUSTER_LONG_KEEP_GOING === '1',
  };
}

/** The env assignments that replay round `round` alone (its schedule, on a fresh cluster). */
function replayCommand(cfg: LongConfig, round: number): string {
  return `CLUSTER_LONG_SEED=${cfg.seed} CLUSTER_LONG_FIRST_ROUND=${round} CLUSTER_LONG_ROUNDS=1 CLUSTER_LONG_MEMBERS=${cfg.members} `
    + `CLUSTER_LONG_ROUND_MS=${cfg.roundMs} CLUSTER_LONG_OPS=${cfg.opsMax} CLUSTER_LONG_CLIENTS=${cfg.clients} CLUSTER_LONG_KEYS=${cfg.keys} `
    + `CLUSTER_LONG_SNAPSHOT_COUNT=${cfg.snapshotCount} node --import tsx test/cluster/long.ts`;
}

/** The running cluster, its nemesis and the after-hooks startCluster registered (stop, rm). */
interface Live {
  cluster: Cluster | undefined;
  nemesis: Nemesis | undefined;
  hooks: Array<() => Promise<void> | void>;
}

const live: Live = { cluster: undefined, nemesis: undefined, hooks: [] };

async function stopCluster(): Promise<void> {
  if (live.nemesis !== undefined) healAll(live.nemesis); // a SIGSTOPped member would not see SIGTERM
  const hooks = live.hooks.splice(0).reverse();
  live.cluster = undefined;
  live.nemesis = undefined;
  for (const h of hooks) await h();
}

async function ensureCluster(cfg: LongConfig): Promise<{ c: Cluster; n: Nemesis }> {
  if (cfg.fresh) await stopCluster();
  if (live.cluster === undefined || live.nemesis === undefined) {
    const args = ['--heartbeat-interval', '50', '--election-timeout', '500', '--snapshot-count', String(cfg.snapshotCount)];
    live.cluster = await startCluster({ t: { after: (fn) => live.hooks.push(fn) }, size: cfg.members, args, token: `long-${process.pid}` });
    live.nemesis = await newNemesis(live.cluster);
  }
  return { c: live.cluster, n: live.nemesis };
}

function roundLine(s: RoundStats): string {
  const kinds = new Map<FaultKind, number>();
  for (const e of s.faults) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
  const faults = [...kinds].map(([k, v]) => `${k}=${v}`).join(',') || 'none';
  return `round ${s.round} seed=${s.seed} ops=${s.ops} answered=${s.answered} maybeWrites=${s.maybeWrites} deletes=${s.deletes} `
    + `faults=${s.faults.length}[${faults}] rev=${s.revision} check=${s.checkMs}ms time=${(s.wallMs / 1000).toFixed(1)}s => ${s.outcome}`;
}

function summaryLines(cfg: LongConfig, all: RoundStats[], wallMs: number): string[] {
  const kinds = new Map<string, number>();
  for (const s of all) for (const e of s.faults) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
  const failed = all.filter((s) => s.outcome !== 'ok');
  const sum = (f: (s: RoundStats) => number): number => all.reduce((a, s) => a + f(s), 0);
  return [
    `cluster long: members=${cfg.members} seed=${cfg.seed} rounds=${all.length} ops checked=${sum((s) => s.ops)} answered=${sum((s) => s.answered)} `
      + `maybeWrites=${sum((s) => s.maybeWrites)} deletes=${sum((s) => s.deletes)} faults=${sum((s) => s.faults.length)} `
      + `[${[...kinds].map(([k, v]) => `${k}=${v}`).join(',')}] failed=${failed.length} time=${(wallMs / 1000).toFixed(1)}s`,
    ...failed.map((s) => `  round ${s.round}: ${s.outcome}; replay: ${replayCommand(cfg, s.round)}`),
  ];
}

async function main(): Promise<number> {
  const cfg = configFromEnv();
  process.env.TETCD_FAILPOINTS = '1'; // inherited by the members: SIGUSR2 isolates one
  const startMs = performance.now();
  const all: RoundStats[] = [];
  let strays = 0;
  process.stdout.write(`cluster long: ${cfg.members} members, ${lanesFor(cfg.members)} fault lane(s), seed ${cfg.seed}, rounds ${cfg.firstRound}..${cfg.firstRound + cfg.rounds - 1}\n`);
  try {
    for (let round = cfg.firstRound; round < cfg.firstRound + cfg.rounds; round++) {
      if (performance.now() - startMs > cfg.timeS * 1000) break;
      const { c, n } = await ensureCluster(cfg);
      const s = await runRound(c, n, cfg, round, cfg.fresh ? 0 : strays);
      strays = s.unansweredWrites;
      all.push(s);
      process.stdout.write(roundLine(s) + '\n');
      if (s.outcome !== 'ok') {
        process.stdout.write(`${s.detail}\nFAILED round ${round} (seed ${s.seed}); artifacts: ${saveFailure(c, s)}\nreplay: ${replayCommand(cfg, round)}\n`);
        if (!cfg.keepGoing) break;
        await stopCluster(); // the next round starts on a fresh cluster
        strays = 0;
      }
    }
  } finally {
    await stopCluster();
  }
  for (const line of summaryLines(cfg, all, performance.now() - startMs)) process.stdout.write(line + '\n');
  return all.some((s) => s.outcome !== 'ok') ? 1 : 0;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`cluster long: ${sig}, stopping the cluster\n`);
    void stopCluster().finally(() => process.exit(130));
  });
}

main().then((code) => process.exit(code), async (err) => {
  process.stderr.write(`cluster long: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  await stopCluster().catch(() => undefined);
  process.exit(1);
});
