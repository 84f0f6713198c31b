// The invariant checker: a global observer that sees what every node hands out (through the host)
// and fails the run the moment a Raft safety property breaks. It knows nothing of the core's
// internals; it only sees the records of the public contract (entries, hard states, snapshots,
// read states, roles). Checked, each at the step where it can first break:
//
//   election safety      at most one leader per term
//   log matching         an (index, term) pair identifies one entry and the whole prefix before it
//                        (we record each pair's data and the term of its predecessor)
//   leader completeness  a node that becomes leader holds every entry known committed
//   state machine safety no two nodes apply different entries at one index; a snapshot's state
//                        equals the applied history at its index
//   durability           a committed entry never changes, and a node that holds it never
//                        overwrites it
//   read safety          a ReadState's index is >= the highest index known committed (by any
//                        node) when the read was issued
//
// "Known committed" is learned from every node's hard state commit and committed entries.

import assert from 'node:assert/strict';
import type { NodeId, ReadState } from '../../src/raft/types.js';

/** Reads remembered for the read-safety check; the oldest are forgotten first. */
export const READS_TRACKED_MAX = 4096;

export class SimViolation extends Error {
  constructor(readonly invariant: string, detail: string) {
    super(`${invariant}: ${detail}`);
    this.name = 'SimViolation';
  }
}

/** What identifies an entry's content: its type and data bytes. */
export type Fingerprint = string;

interface PairRecord {
  fp: Fingerprint;
  prevTerm: number;
  firstSeenBy: NodeId;
}

interface CommittedRecord {
  term: number;
  fp: Fingerprint;
}

export function fail(invariant: string, detail: string): never {
  throw new SimViolation(invariant, detail);
}

export class Checker {
  private readonly leaderByTerm = new Map<number, NodeId>();
  // key `${index}:${term}`; invariant: once set, never changes.
  private readonly pairs = new Map<string, PairRecord>();
  // index -> the committed entry; invariant: dense from 1 to maxCommitted except below the
  // first index some node learned through a snapshot only.
  private readonly committed = new Map<number, CommittedRecord>();
  /** ReadStates delivered to a node other than the one that issued the read. */
  misroutedReads = 0;
  /** Highest index known committed by any node. */
  maxCommitted = 0;
  private readonly applied = new Map<number, { fp: Fingerprint; digest: number }>();
  private readonly reads = new Map<string, { node: NodeId; minIndex: number }>();
  // key `${voter}:${term}` -> the candidate that voter granted its vote to, as the world saw it.
  private readonly votes = new Map<string, NodeId>();

  observeLeader(node: NodeId, term: number): void {
    const prior = this.leaderByTerm.get(term);
    if (prior !== undefined && prior !== node) {
      fail('election safety', `nodes ${prior} and ${node} both lead term ${term}`);
    }
    this.leaderByTerm.set(term, node);
  }

  /** Vote safety as seen on the wire: a node grants at most one vote per term, crashes included. */
  observeVoteGranted(voter: NodeId, candidate: NodeId, term: number): void {
    const key = `${voter}:${term}`;
    const prior = this.votes.get(key);
    if (prior !== undefined && prior !== candidate) {
      fail('vote safety', `node ${voter} granted its term ${term} vote to both ${prior} and ${candidate}`);
    }
    this.votes.set(key, candidate);
  }

  leaderOf(term: number): NodeId | undefined {
    return this.leaderByTerm.get(term);
  }

  /** Log matching: called for every entry a node adds to its log, with its predecessor's term. */
  observeLogEntry(node: NodeId, index: number, term: number, fp: Fingerprint, prevTerm: number): void {
    assert.ok(index >= 1 && term >= 1, `bad entry ${index}:${term}`);
    const key = `${index}:${term}`;
    const seen = this.pairs.get(key);
    if (seen === undefined) {
      this.pairs.set(key, { fp, prevTerm, firstSeenBy: node });
      return;
    }
    if (seen.fp !== fp) {
      fail('log matching', `entry ${key} on node ${node} differs from the one node ${seen.firstSeenBy} has`);
    }
    if (seen.prevTerm !== prevTerm) {
      fail('log matching', `entry ${key} on node ${node} follows term ${prevTerm} but on node ` +
        `${seen.firstSeenBy} follows term ${seen.prevTerm}`);
    }
  }

  /** Durability: a node replaced the entry it held at `index`. */
  observeOverwrite(node: NodeId, index: number, oldTerm: number, nodeCommit: number): void {
    if (index <= nodeCommit) {
      fail('durability', `node ${node} overwrote entry ${index}:${oldTerm} at or below its commit ${nodeCommit}`);
    }
    const c = this.committed.get(index);
    if (c !== undefined && c.term === oldTerm) {
      fail('durability', `node ${node} overwrote committed entry ${index}:${oldTerm}`);
    }
  }

  observeCommitted(node: NodeId, index: number, term: number, fp: Fingerprint): void {
    const prior = this.committed.get(index);
    if (prior === undefined) {
      this.committed.set(index, { term, fp });
      if (index > this.maxCommitted) this.maxCommitted = index;
      return;
    }
    if (prior.term !== term || prior.fp !== fp) {
      fail('durability', `node ${node} has ${index}:${term} committed, but ${index}:${prior.term} was committed before`);
    }
  }

  /** A snapshot at (index, term) stands for a committed prefix. */
  observeSnapshotPoint(node: NodeId, index: number, term: number): void {
    if (index === 0) return;
    const c = this.committed.get(index);
    if (c !== undefined && c.term !== term) {
      fail('durability', `node ${node} holds a snapshot at ${index}:${term}, but ${index}:${c.term} is committed`);
    }
    if (index > this.maxCommitted) this.maxCommitted = index;
  }

  committedTerm(index: number): number | undefined {
    return this.committed.get(index)?.term;
  }

  /** Leader completeness: `termAt(i)` is the new leader's log term at i (undefined if absent). */
  checkLeaderCompleteness(node: NodeId, term: number, termAt: (i: number) => number | undefined, snapIndex: number): void {
    const top = this.maxCommitted;
    if (top <= snapIndex) return;
    const want = this.committed.get(top)?.term;
    const have = termAt(top);
    if (have === undefined) {
      fail('leader completeness', `node ${node} leads term ${term} without committed index ${top}`);
    }
    if (want !== undefined && have !== want) {
      fail('leader completeness', `node ${node} leads term ${term} with ${top}:${have}, but ${top}:${want} is committed`);
    }
  }

  /** State machine safety: node applied `fp` at `index`, reaching state digest `digest`. */
  observeApply(node: NodeId, index: number, fp: Fingerprint, digest: number): void {
    const c = this.committed.get(index);
    if (c !== undefined && c.fp !== fp) {
      fail('state machine safety', `node ${node} applied an entry at ${index} that is not the committed one`);
    }
    const prior = this.applied.get(index);
    if (prior === undefined) {
      this.applied.set(index, { fp, digest });
      return;
    }
    if (prior.fp !== fp) fail('state machine safety', `node ${node} applied a different entry at ${index}`);
    if (prior.digest !== digest) fail('state machine safety', `node ${node} state at ${index} diverged`);
  }

  /** A node restored its state machine from a snapshot at `index` carrying state `digest`. */
  observeRestore(node: NodeId, index: number, digest: number): void {
    const prior = this.applied.get(index);
    if (prior !== undefined && prior.digest !== digest) {
      fail('state machine safety', `node ${node} restored a snapshot at ${index} whose state differs from the applied history`);
    }
  }

  beginRead(node: NodeId, ctxKey: string): void {
    assert.ok(!this.reads.has(ctxKey), `read context reused: ${ctxKey}`);
    this.reads.set(ctxKey, { node, minIndex: this.maxCommitted });
    if (this.reads.size > READS_TRACKED_MAX) {
      const oldest = this.reads.keys().next().value as string;
      this.reads.delete(oldest);
    }
  }

  /** Returns whether the read was one we issued (false for an unknown or forgotten context). */
  observeReadState(node: NodeId, ctxKey: string, rs: ReadState): boolean {
    const r = this.reads.get(ctxKey);
    if (r === undefined) return false;
    // A ReadState on a node that did not issue the read is a lost read (the issuer never hears
    // back), not a stale one: counted for the report, not a safety violation.
    if (r.node !== node) {
      this.misroutedReads++;
      return false;
    }
    if (rs.index < r.minIndex) {
      fail('read safety', `read ${ctxKey} on node ${node} got index ${rs.index} < ${r.minIndex} committed when it began`);
    }
    return true;
  }
}
