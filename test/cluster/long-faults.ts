// The nemesis of the long randomized cluster run (long.ts): a random fault schedule drawn from
// a seed, applied to real tetcd processes while clients run. Faults:
//   kill-leader / kill-follower  SIGKILL, restart after a random delay (same ports, same data)
//   freeze                       SIGSTOP, SIGCONT after a random delay (a frozen process)
//   isolate                      SIGUSR2 twice: the member drops all peer traffic meanwhile
//                                (needs TETCD_FAILPOINTS=1 in the member's environment)
//   transfer                     /v3/maintenance/transfer-leadership to a random other member
//
// Availability: LANES = floor((members - 1) / 2) lanes run at once, each owning the one member
// it is hurting until that member is healthy again, so at most a minority is faulty at a time.
// A lane heals its own fault in a `finally`; `healAll` is the safety net for errors and Ctrl-C.
// A member that is down without the nemesis having killed it has crashed: `crashed` says so.

import assert from 'node:assert/strict';
import { sleep, status, waitFor, type Cluster, type ClusterMember } from '../helpers/cluster.js';
import { post } from '../helpers/kv-client.js';

export type FaultKind = 'kill-leader' | 'kill-follower' | 'freeze' | 'isolate' | 'transfer';
export const FAULT_KINDS: readonly FaultKind[] = ['kill-leader', 'kill-follower', 'freeze', 'isolate', 'transfer'];

/** Calm between two faults of one lane, and how long a fault is held. */
const CALM_MIN_MS = 300;
const CALM_SPREAD_MS = 1500;
const HOLD_MIN_MS = 200;
const HOLD_SPREAD_MS = 3000;
/** A hurt member must be healthy again within this (a restart compiles the server with tsx). */
export const RECOVER_TIMEOUT_MS = 60_000;
const HEALTH_REQUEST_TIMEOUT_MS = 2_000;

export interface FaultEvent {
  lane: number;
  kind: FaultKind;
  member: string;
  holdMs: number;
  /** transfer: the answer; other kinds: how long recovery took. */
  note: string;
}

/** What the nemesis is doing; each set holds members hurt right now (for healAll and pickers). */
export interface Nemesis {
  readonly c: Cluster;
  /** Member ids (stable across restarts), learnt when the run starts. */
  readonly ids: ReadonlyMap<ClusterMember, string>;
  readonly owned: Set<ClusterMember>;
  readonly killed: Set<ClusterMember>;
  readonly frozen: Set<ClusterMember>;
  readonly isolated: Set<ClusterMember>;
  readonly events: FaultEvent[];
  stopping: boolean;
}

export async function newNemesis(c: Cluster): Promise<Nemesis> {
  const ids = new Map<ClusterMember, string>();
  for (const m of c.members) ids.set(m, (await status(m.url)).memberId);
  assert.equal(new Set(ids.values()).size, c.members.length, 'member ids are distinct');
  return { c, ids, owned: new Set(), killed: new Set(), frozen: new Set(), isolated: new Set(), events: [], stopping: false };
}

export function lanesFor(members: number): number {
  return Math.floor((members - 1) / 2);
}

/** True when /health answers true within a short bound. */
export async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(HEALTH_REQUEST_TIMEOUT_MS) });
    const body = (await res.json()) as { health?: string };
    return res.status === 200 && body.health === 'true';
  } catch {
    return false;
  }
}

async function waitMemberHealthy(m: ClusterMember): Promise<number> {
  const startMs = Date.now();
  await waitFor(`${m.name} healthy again`, RECOVER_TIMEOUT_MS, async () => {
    if (!m.running()) throw new Error(`${m.name} is not running`);
    return (await healthy(m.url)) ? true : undefined;
  });
  return Date.now() - startMs;
}

/** The leader among the members no lane owns (undefined if none of them leads now). */
async function freeLeader(n: Nemesis): Promise<ClusterMember | undefined> {
  const free = n.c.members.filter((m) => !n.owned.has(m) && m.running());
  const seen = await Promise.allSettled(free.map((m) => status(m.url)));
  const i = seen.findIndex((s) => s.status === 'fulfilled' && s.value.leader === s.value.memberId);
  return i < 0 ? undefined : free[i];
}

/** One lane: faults one after another until the nemesis stops; rethrows recovery failures. */
export async function runLane(n: Nemesis, lane: number, rand: () => number, log: (e: FaultEvent) => void): Promise<void> {
  while (!n.stopping) {
    await sleep(CALM_MIN_MS + rand() * CALM_SPREAD_MS);
    if (n.stopping) break;
    const kind = FAULT_KINDS[Math.floor(rand() * FAULT_KINDS.length)]!;
    const holdMs = Math.round(HOLD_MIN_MS + rand() * HOLD_SPREAD_MS);
    const pickRoll = rand();
    const leader = await freeLeader(n);
    const free = n.c.members.filter((m) => !n.owned.has(m) && m.running());
    const followers = free.filter((m) => m !== leader);
    const target = kind === 'kill-leader' || kind === 'transfer' ? leader
      : kind === 'kill-follower' ? followers[Math.floor(pickRoll * followers.length)]
        : free[Math.floor(pickRoll * free.length)];
    if (target === undefined || n.stopping) continue;
    n.owned.add(target);
    try {
      const note = await applyFault(n, kind, target, holdMs, followers[Math.floor(pickRoll * followers.length)]).catch((err: unknown) => {
        // Kept in the round's fault list (the report names the fault a member did not survive).
        const event = { lane, kind, member: target.name, holdMs, note: `FAILED: ${String(err)}` };
        n.events.push(event);
        log(event);
        throw err;
      });
      const event = { lane, kind, member: target.name, holdMs, note };
      n.events.push(event);
      log(event);
    } finally {
      n.owned.delete(target);
    }
  }
}

/** Hurts `m` for `holdMs`, heals it and waits until it is healthy; returns a note for the log. */
async function applyFault(n: Nemesis, kind: FaultKind, m: ClusterMember, holdMs: number, transferee: ClusterMember | undefined): Promise<string> {
  switch (kind) {
    case 'kill-leader':
    case 'kill-follower':
      n.killed.add(m);
      await m.kill('SIGKILL');
      await sleep(holdMs);
      m.start();
      n.killed.delete(m);
      return `back in ${await waitMemberHealthy(m)} ms`;
    case 'freeze':
      n.frozen.add(m);
      assert.ok(m.signal('SIGSTOP'), `${m.name} is running`);
      await sleep(holdMs);
      m.signal('SIGCONT');
      n.frozen.delete(m);
      return `back in ${await waitMemberHealthy(m)} ms`;
    case 'isolate':
      // SIGUSR2 before the member serves would end it; a free member has been healthy.
      n.isolated.add(m);
      assert.ok(m.signal('SIGUSR2'), `${m.name} is running`);
      await sleep(holdMs);
      m.signal('SIGUSR2');
      n.isolated.delete(m);
      return `back in ${await waitMemberHealthy(m)} ms`;
    case 'transfer': {
      if (transferee === undefined) return 'no transferee';
      try {
        const a = await post(m.url, '/v3/maintenance/transfer-leadership', { targetID: n.ids.get(transferee) });
        return `to ${transferee.name}: ${a.status}${a.status === 200 ? '' : ` ${JSON.stringify(a.body)}`}`;
      } catch (err) {
        return `to ${transferee.name}: ${String(err)}`;
      }
    }
  }
}

/** Members that are down though the nemesis did not kill them. */
export function crashed(n: Nemesis): ClusterMember[] {
  return n.c.members.filter((m) => !m.running() && !n.killed.has(m));
}

/** The fatal lines of a member's log tail (an actor crash, a failed assertion), for reports. */
export function fatalLines(m: ClusterMember, linesMax = 5): string[] {
  return m.output().split('\n').filter((l) => /"level":60|fatal|AssertionError/.test(l)).slice(-linesMax);
}

/** Undoes every fault still in place (thaws, reconnects, restarts what the nemesis killed). */
export function healAll(n: Nemesis): void {
  for (const m of n.frozen) m.signal('SIGCONT');
  n.frozen.clear();
  for (const m of n.isolated) m.signal('SIGUSR2');
  n.isolated.clear();
  for (const m of n.killed) if (!m.running()) m.start();
  n.killed.clear();
}
