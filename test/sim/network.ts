// The simulated network between cluster members. It decides each message's fate when it is sent
// (dropped, delivered once, or duplicated, each copy with its own random delay, which reorders
// messages), and whether a link is open when a copy arrives (partitions also cut messages that are
// already in flight, like a real cable pull). Partitions are symmetric (the members are split into
// groups that cannot talk) or asymmetric (one direction of one or more links is cut). Everything
// is driven by the injected RNG; the network never reads a clock.

import assert from 'node:assert/strict';
import type { Rng } from './rng.js';

export interface NetworkFaults {
  /** Probability that a sent message is lost. */
  dropP: number;
  /** Probability that a sent message is delivered twice (independent delays). */
  duplicateP: number;
  /** Delivery delay bounds in time units, inclusive. */
  delayMinUnits: number;
  delayMaxUnits: number;
}

export const CALM_NETWORK: NetworkFaults = { dropP: 0, duplicateP: 0, delayMinUnits: 1, delayMaxUnits: 8 };

/** Most hosts a run ever creates (initial members plus joiners, including failed joins). */
export const HOSTS_MAX = 16;
/** Bound on cut directed links: n hosts have at most n*(n-1). */
const CUT_LINKS_MAX = HOSTS_MAX * (HOSTS_MAX - 1);

function linkKey(from: bigint, to: bigint): string {
  return `${from}>${to}`;
}

export class Network {
  // Directed links that are cut; invariant: never contains a self link (local messages never
  // cross the network).
  private readonly cut = new Set<string>();
  faults: NetworkFaults = CALM_NETWORK;
  /** Counters for the run summary. */
  readonly stats = { sent: 0, dropped: 0, duplicated: 0, cutOnArrival: 0 };

  constructor(private readonly rng: Rng) {}

  /** Delays (time units) for each copy of a message that is sent now; empty when it is lost. */
  sendDelays(): number[] {
    const f = this.faults;
    assert.ok(f.delayMinUnits >= 1 && f.delayMinUnits <= f.delayMaxUnits, 'bad delay bounds');
    this.stats.sent++;
    if (this.rng.chance(f.dropP)) {
      this.stats.dropped++;
      return [];
    }
    const delays = [this.rng.int(f.delayMinUnits, f.delayMaxUnits)];
    if (this.rng.chance(f.duplicateP)) {
      this.stats.duplicated++;
      delays.push(this.rng.int(f.delayMinUnits, f.delayMaxUnits * 3));
    }
    return delays;
  }

  /** Whether a copy travelling from -> to may arrive now. */
  linkOpen(from: bigint, to: bigint): boolean {
    const open = !this.cut.has(linkKey(from, to));
    if (!open) this.stats.cutOnArrival++;
    return open;
  }

  /** Splits `members` into groups that cannot talk to each other (both directions). */
  partition(groups: readonly (readonly bigint[])[]): void {
    for (let g = 0; g < groups.length; g++) {
      for (let h = 0; h < groups.length; h++) {
        if (g === h) continue;
        for (const a of groups[g] ?? []) for (const b of groups[h] ?? []) this.cutLink(a, b);
      }
    }
  }

  /** Cuts the direction from -> to only. */
  cutLink(from: bigint, to: bigint): void {
    assert.notEqual(from, to, 'cannot cut a self link');
    this.cut.add(linkKey(from, to));
    assert.ok(this.cut.size <= CUT_LINKS_MAX, 'too many cut links');
  }

  /** Cuts every link into and out of one member (it is alone in its partition). */
  isolate(id: bigint, members: readonly bigint[]): void {
    for (const other of members) {
      if (other === id) continue;
      this.cutLink(id, other);
      this.cutLink(other, id);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  describe(): string {
    return this.cut.size === 0 ? 'fully connected' : `cut ${[...this.cut].sort().join(' ')}`;
  }
}
