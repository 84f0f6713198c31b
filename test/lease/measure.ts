// Measures the lessor's CPU cost (a script, not a test: `node --import tsx test/lease/measure.ts`).
//
// Figures, each the median of RUNS runs, CPU time (user + system) of this process:
//   idle check      expired() with 100,000 leases of which none is due (the at-rest cost)
//   renew           one keep-alive on a 100,000-lease leader, extending the expiry
//   keep-alive sim  60 simulated seconds: 100,000 leases, TTL 10 s, each renewed every 3 s,
//                   expired() every 500 ms; cost per renew including the re-arms it causes
//   burst batch     one expired() call handing out 500 of 100,000 simultaneous expiries
//   promote         restarting all 100,000 clocks on becoming leader (with pile-up spreading)
// It also reports heap operations, which must be zero for the idle check.

import { LEASE_REVOKE_BATCH_MAX, LEASE_REVOKE_INTERVAL_MS, Lessor, type LessorConfig } from '../../src/lease/lessor.js';

const N = 100_000;
const RUNS = 5;
const CONFIG: LessorConfig = { minTtlSec: 2, revokeRetryMs: 7000, checkpointIntervalMs: 0 };

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function leader(ttlSec: number): Lessor {
  const le = new Lessor(CONFIG);
  le.promote(0, 0);
  for (let i = 1; i <= N; i++) le.grant(BigInt(i), ttlSec, 0);
  return le;
}

/** CPU microseconds per operation of `body(n)` running n operations. */
function perOp(n: number, setup: () => (n: number) => void): number {
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const body = setup();
    const t0 = cpuUs();
    body(n);
    runs.push((cpuUs() - t0) / n);
  }
  return median(runs);
}

function idleCheck(): { us: number; pops: number } {
  let pops = 0;
  const us = perOp(2_000_000, () => {
    const le = leader(3600);
    return (n) => {
      const before = le.stats().expiryHeapPops;
      for (let i = 0; i < n; i++) if (le.expired(i % 1_000_000).length !== 0) throw new Error('nothing is due');
      pops += le.stats().expiryHeapPops - before;
    };
  });
  return { us, pops };
}

function renew(): number {
  return perOp(1_000_000, () => {
    const le = leader(3600);
    return (n) => {
      for (let i = 0; i < n; i++) le.renew(BigInt(1 + (i % N)), 1000 + Math.floor(i / N));
    };
  });
}

function keepAliveSim(): number {
  const renewsPerTick = (N * LEASE_REVOKE_INTERVAL_MS) / 3000;
  let renews = 0;
  const us = perOp(1, () => {
    const le = leader(10);
    return () => {
      let next = 1;
      for (let t = LEASE_REVOKE_INTERVAL_MS; t <= 60_000; t += LEASE_REVOKE_INTERVAL_MS) {
        for (let j = 0; j < renewsPerTick; j++, next = next === N ? 1 : next + 1) {
          if (le.renew(BigInt(next), t).kind !== 'renewed') throw new Error('lease expired in the sim');
          renews++;
        }
        do if (le.expired(t).length !== 0) throw new Error('lease expired in the sim'); while (le.hasExpired(t));
      }
    };
  });
  return us / (renews / RUNS);
}

function burstBatch(): number {
  return perOp(N / LEASE_REVOKE_BATCH_MAX, () => {
    const le = leader(10);
    return (n) => {
      for (let i = 0; i < n; i++) if (le.expired(10_000).length !== LEASE_REVOKE_BATCH_MAX) throw new Error('short batch');
    };
  });
}

function promote(): number {
  return perOp(1, () => {
    const le = new Lessor(CONFIG);
    le.restore(Array.from({ length: N }, (_, i) => ({ id: BigInt(i + 1), ttlSec: 10 + (i % 50), remainingTtlSec: 0 })));
    return () => le.promote(1000, 0);
  });
}

const idle = idleCheck();
const fmt = (us: number): string => (us < 1 ? `${(us * 1000).toFixed(0)} ns` : us < 1000 ? `${us.toFixed(2)} us` : `${(us / 1000).toFixed(1)} ms`);
console.log(`node ${process.version}, ${N} leases, median of ${RUNS} runs, CPU time`);
console.log(`idle check (expired(), nothing due): ${fmt(idle.us)} per call, heap pops ${idle.pops}`);
console.log(`renew (extends expiry):              ${fmt(renew())} per renew`);
console.log(`keep-alive sim (renew + re-arms):    ${fmt(keepAliveSim())} per renew`);
console.log(`burst (500 of 100k expiring):        ${fmt(burstBatch())} per expired() batch`);
console.log(`promote (100k clocks + spreading):   ${fmt(promote())}`);
