// Fault injection for the chaos phase: crashes (a member loses everything it had not persisted),
// restarts, symmetric partitions, isolating the leader, asymmetric link cuts, healing, and changes
// of the network's loss, duplication and delay. Faults are drawn from the cluster's seeded RNG.

import type { NetworkFaults } from './network.js';
import type { Cluster } from './cluster.js';

export type FaultProfile = 'calm' | 'stormy' | 'churn';

/** Most ticks between two faults, per profile. */
export const FAULT_GAP_MAX_TICKS: Readonly<Record<FaultProfile, number>> = { calm: 30, stormy: 8, churn: 4 };

function randomFaults(c: Cluster): NetworkFaults {
  const r = c.rng;
  return {
    dropP: r.pick([0, 0.02, 0.1, 0.3]),
    duplicateP: r.pick([0, 0.02, 0.1]),
    delayMinUnits: 1,
    delayMaxUnits: r.pick([5, 15, 40, 90]),
  };
}

export function injectFault(c: Cluster): void {
  const all = [...c.hosts.values()].filter((h) => !h.retired);
  const up = all.filter((h) => h.up);
  const down = all.filter((h) => !h.up);
  const ids = all.map((h) => h.id);
  const churn = c.faultProfile === 'churn';
  const kind = c.rng.weighted({ crash: churn ? 1 : 3, restart: down.length > 0 ? 6 : 0, partition: churn ? 1 : 2,
    isolateLeader: churn ? 2 : 1, asymmetric: churn ? 0 : 2, heal: 3, network: churn ? 0 : 2,
    leaderCrashSoon: churn ? 8 : 2, restartAll: churn && down.length > 1 ? 3 : 0 });
  const counters = c.history.counters;
  switch (kind) {
    case 'crash': {
      if (up.length === 0) return;
      c.rng.pick(up).crash();
      counters.crashes++;
      return;
    }
    case 'restartAll': {
      // Every down member back at once, with whatever divergent logs they kept: the moment
      // stale-term entries meet new leaders (as in the recovery phase).
      for (const h of down) h.start();
      counters.restarts += down.length;
      c.history.record(c.now(), 'net', `restart all: ${down.map((h) => h.id).join(',')}`);
      return;
    }
    case 'restart': {
      c.rng.pick(down).start();
      counters.restarts++;
      return;
    }
    case 'partition': {
      const shuffled = c.rng.shuffle(ids);
      const cut = c.rng.int(1, Math.max(1, shuffled.length - 1));
      c.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
      counters.partitions++;
      break;
    }
    case 'isolateLeader': {
      const leader = up.find((h) => h.role() === 'Leader');
      if (leader === undefined) return;
      c.network.isolate(leader.id, ids);
      counters.partitions++;
      break;
    }
    case 'asymmetric': {
      const from = c.rng.pick(ids);
      const others = ids.filter((x) => x !== from);
      if (others.length === 0) return;
      for (const to of c.rng.subset(others, 0.5)) c.network.cutLink(from, to);
      counters.partitions++;
      break;
    }
    case 'leaderCrashSoon': {
      // Let the leader append and partly replicate a few entries, then kill it: this leaves
      // entries of its term on a minority, the raw material of Raft's figure 8.
      const leader = up.find((h) => h.role() === 'Leader');
      if (leader === undefined) return;
      c.crashSoon(leader.id, c.rng.int(1, 3 * 10));
      c.history.record(c.now(), 'net', `leader ${leader.id} will crash soon`);
      return;
    }
    case 'heal': c.network.heal(); break;
    case 'network': c.network.faults = randomFaults(c); break;
  }
  c.history.record(c.now(), 'net', `${kind}: ${c.network.describe()} drop=${c.network.faults.dropP} ` +
    `dup=${c.network.faults.duplicateP} delay<=${c.network.faults.delayMaxUnits}`);
}
