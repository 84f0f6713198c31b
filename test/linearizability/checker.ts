// A linearizability checker for KV histories (history.ts): the Wing–Gong search with Lowe's
// memoization, run per key, plus global checks of etcd's revision counter.
//
// Why per key is enough for values: a KV store is a set of independent registers, and
// linearizability is compositional (P-compositionality): a history is linearizable iff each
// key's sub-history is. The global revision counter couples the keys, so it is checked in
// three ways:
//   1. every revision a completed write returned is unique (two writes never share one);
//   2. real time: an op invoked after another completed sits at a later position of the
//      revision order (a read at revision >= the earlier op's, a write strictly above it), over
//      all keys at once (one sweep in invocation order);
//   3. the per-key search places each op at its revision: a write at revision r only after
//      everything linearized on that key sits below r, a read at revision R only after every
//      write <= R on its key... (state field `lo`, below). A maybe-applied write has no known
//      revision; it takes the lowest revision above `lo` that no completed write returned.
//   4. every revision in (initialRevision, highest seen] is created by a completed write or
//      could be by a maybe-applied one (counted, not matched).
// Known weakness (sound, not complete): maybe-applied writes on different keys are not stopped
// from claiming the same free revision, and their revisions are not checked against real time
// across keys.
//
// The search (Lowe, "Testing for linearizability", 2017; as in Porcupine): the history is a
// linked list of call and return entries in time order. At a call we try to linearize that op
// now (the model accepts it, and the pair (set of linearized ops, model state) was never seen:
// the cache); at a return we hit an op that should already be linearized, so we backtrack. The
// set of linearized ops is keyed by a 64-bit Zobrist hash (two seeded 32-bit halves): a hash
// collision could prune a branch wrongly, at odds of about entries² / 2⁶⁴.
//
// Bounded: SEARCH_STEPS_MAX per key; past it the answer is "unknown", never a guess.
// On a violation the report names the key, the shortest failing prefix of its history (binary
// search: linearizability is prefix-closed), with reads that do not matter removed, the longest
// partial linearization found, and why each op that could come next cannot.

import assert from 'node:assert/strict';
import { describeOp, resultMatches, type HistoryOp, type KvResult } from './history.js';

/** Search steps (call entries tried + backtracks) per key before giving up with "unknown". */
export const SEARCH_STEPS_MAX = 2_000_000;
/** Attempts at removing a read from a failing prefix while explaining a violation. */
const SHRINK_ATTEMPTS_MAX = 100;
/** Search steps spent on shrinking an explanation, over all attempts; then it is shown as is. */
const SHRINK_STEPS_MAX = 300_000;
/** Ops shown in a report. */
const REPORT_OPS_MAX = 40;

export interface CheckOptions {
  /** The store revision before the first op (etcd: 1 on a fresh store). Default 1. */
  initialRevision?: number;
  /** Values of keys before the first op; others are absent. */
  initialValues?: Readonly<Record<string, string>>;
  /** Overrides SEARCH_STEPS_MAX (tests of the bound). */
  searchStepsMax?: number;
}

export interface Violation {
  /** The key whose sub-history fails, or undefined for a global revision fault. */
  key: string | undefined;
  message: string;
  /** The ops that explain it (a minimal failing prefix for a key), in invocation order. */
  ops: HistoryOp[];
  /** message + the ops + the search's best attempt, ready to print. */
  report: string;
}

export type CheckResult =
  | { outcome: 'ok'; keys: number; ops: number }
  | { outcome: 'unknown'; key: string; reason: string }
  | { outcome: 'violation'; violation: Violation };

/** Checks a history; see the file header for what is and is not checked. */
export function checkHistory(history: readonly HistoryOp[], opts: CheckOptions = {}): CheckResult {
  const initialRevision = opts.initialRevision ?? 1;
  assert.ok(Number.isSafeInteger(initialRevision) && initialRevision >= 0, 'initial revision is an integer');
  const ops = normalize(history);
  const global = checkRevisions(ops, initialRevision);
  if (global !== undefined) return { outcome: 'violation', violation: global };
  const knownWrites = new Set(ops.flatMap((h) => (writeRevision(h) === undefined ? [] : [writeRevision(h)!])));
  const highestRevision = Math.max(initialRevision, ...ops.map((h) => h.result?.revision ?? 0));
  const byKey = new Map<string, HistoryOp[]>();
  for (const h of ops) byKey.set(h.op.key, [...(byKey.get(h.op.key) ?? []), h]);
  const budget = opts.searchStepsMax ?? SEARCH_STEPS_MAX;
  for (const [key, keyOps] of byKey) {
    const initial = { value: opts.initialValues?.[key], lo: initialRevision, modRev: undefined };
    const ctx: KeyContext = { key, knownWrites, initial, budget, highestRevision };
    const r = searchKey(keyOps, ctx);
    if (r.outcome === 'unknown') return { outcome: 'unknown', key, reason: `search budget of ${budget} steps spent on key ${JSON.stringify(key)} (${keyOps.length} ops)` };
    if (r.outcome === 'violation') return { outcome: 'violation', violation: explainKey(keyOps, ctx) };
  }
  return { outcome: 'ok', keys: byKey.size, ops: ops.length };
}

/** Drops gets without an answer (they constrain nothing); checks each op's shape. */
function normalize(history: readonly HistoryOp[]): HistoryOp[] {
  const ids = new Set<number>();
  const out: HistoryOp[] = [];
  for (const h of history) {
    assert.ok(!ids.has(h.id), `op id ${h.id} appears twice`);
    ids.add(h.id);
    assert.ok(resultMatches(h), `op ${describeOp(h)}: result does not match the op`);
    if (h.op.kind === 'get' && h.result === undefined) continue;
    out.push(h);
  }
  return out.sort((a, b) => a.call - b.call || a.id - b.id);
}

/** The revision a completed successful write created, else undefined. */
function writeRevision(h: HistoryOp): number | undefined {
  const r = h.result;
  if (r === undefined) return undefined;
  if (r.kind === 'put' || (r.kind === 'cas' && r.succeeded)) return r.revision;
  return undefined;
}

/** The position of a completed op in the revision order, and whether it is a write there. */
function positionOf(r: KvResult): { rev: number; write: boolean } {
  return { rev: r.revision, write: r.kind === 'put' || (r.kind === 'cas' && r.succeeded) };
}

function fault(message: string, ops: HistoryOp[]): Violation {
  return { key: undefined, message, ops, report: [message, ...ops.map((h) => `  ${describeOp(h)}`)].join('\n') };
}

/** Global revision checks 1, 2 and 4 of the file header. */
function checkRevisions(ops: readonly HistoryOp[], initialRevision: number): Violation | undefined {
  const writers = new Map<number, HistoryOp>();
  let maybeWrites = 0;
  let highest = initialRevision;
  for (const h of ops) {
    if (h.result === undefined) maybeWrites++;
    else highest = Math.max(highest, h.result.revision);
    const rev = writeRevision(h);
    if (rev === undefined) continue;
    if (rev <= initialRevision) return fault(`write created revision ${rev}, not above the initial revision ${initialRevision}`, [h]);
    const other = writers.get(rev);
    if (other !== undefined) return fault(`two writes created revision ${rev}`, [other, h]);
    writers.set(rev, h);
  }
  const backwards = checkRealTimeRevisions(ops);
  if (backwards !== undefined) return backwards;
  const gaps = highest - initialRevision - writers.size;
  assert.ok(gaps >= 0, 'known writes fit below the highest revision');
  if (gaps > maybeWrites) {
    return fault(`revisions ${initialRevision + 1}..${highest} need ${gaps} more writes than the ${maybeWrites} maybe-applied ones`, []);
  }
  return undefined;
}

/**
 * Check 2: sweeps ops in invocation order, keeping the highest position among the ops that
 * completed before the current invocation (a heap would do; completion order is sorted once).
 */
function checkRealTimeRevisions(ops: readonly HistoryOp[]): Violation | undefined {
  const done = ops.filter((h) => h.ret !== undefined).sort((a, b) => a.ret! - b.ret!);
  let next = 0;
  let floor: HistoryOp | undefined;
  for (const h of ops) {
    while (next < done.length && done[next]!.ret! < h.call) {
      const d = done[next++]!;
      if (floor === undefined || d.result!.revision > floor.result!.revision) floor = d;
    }
    if (h.result === undefined || floor === undefined) continue;
    const pos = positionOf(h.result);
    const min = floor.result!.revision;
    if (pos.rev < min || (pos.write && pos.rev === min)) {
      return fault(`revision went backwards: an op invoked after another completed at revision ${min} ${pos.write ? 'wrote' : 'read at'} revision ${pos.rev}`, [floor, h]);
    }
  }
  return undefined;
}

// ---- the per-key search ------------------------------------------------------------------

/**
 * The register as the search sees it. `lo` is the revision of the last op linearized on this
 * key: the next write must create a revision above it, the next read must read at or above it.
 * `modRev` is the revision of the write that set `value`, when known.
 */
interface KeyState {
  value: string | undefined;
  lo: number;
  modRev: number | undefined;
}

interface KeyContext {
  key: string;
  /** Revisions created by completed writes (over all keys): a maybe-applied write cannot take them. */
  knownWrites: ReadonlySet<number>;
  initial: KeyState;
  budget: number;
  /** The highest revision any answer carries (over all keys). */
  highestRevision: number;
}

/** The lowest revision above `lo` that no completed write created. */
function freeRevisionAbove(lo: number, known: ReadonlySet<number>): number {
  let r = lo + 1;
  while (known.has(r)) r++;
  return r;
}

/** The states the op may lead to from `s` (none: it cannot go next), and why not. */
function stepKey(s: KeyState, h: HistoryOp, ctx: KeyContext): { next: KeyState[]; why: string } {
  const known = ctx.knownWrites;
  const o = h.op;
  const r = h.result;
  if (o.kind === 'get') {
    assert.ok(r?.kind === 'get', 'a get in the search has its answer');
    if (r.revision < s.lo) return { next: [], why: `reads at ${r.revision}, below ${s.lo}` };
    if (r.value !== s.value) return { next: [], why: `reads ${r.value ?? 'absent'}, the register holds ${s.value ?? 'absent'}` };
    if (r.modRevision !== undefined && s.modRev !== undefined && r.value !== undefined && r.modRevision !== s.modRev) {
      return { next: [], why: `mod revision ${r.modRevision}, the value was written at ${s.modRev}` };
    }
    return { next: [{ ...s, lo: r.revision }], why: '' };
  }
  const matches = o.kind === 'put' || (s.value !== undefined && s.value === o.expected);
  if (r === undefined) {
    const slot = freeRevisionAbove(s.lo, known);
    // Not applied is not a step: the op is simply never linearized (answered ops are all the
    // search must place). Above every answered revision nothing answered could follow it.
    if (slot > ctx.highestRevision) return { next: [], why: 'would only fit after everything answered' };
    if (!matches) return { next: [], why: `would fail: the register holds ${s.value ?? 'absent'}` };
    return { next: [{ value: o.value, lo: slot, modRev: undefined }], why: '' };
  }
  assert.ok(r.kind === o.kind, 'result kind matches');
  const wrote = r.kind === 'put' || (r.kind === 'cas' && r.succeeded);
  if (!wrote) {
    if (r.revision < s.lo) return { next: [], why: `compares at ${r.revision}, below ${s.lo}` };
    if (matches) return { next: [], why: `failed, but the register holds the expected ${s.value}` };
    return { next: [{ ...s, lo: r.revision }], why: '' };
  }
  if (!matches) return { next: [], why: `succeeded, but the register holds ${s.value ?? 'absent'}` };
  if (r.revision <= s.lo) return { next: [], why: `writes revision ${r.revision}, not above ${s.lo}` };
  return { next: [{ value: o.value, lo: r.revision, modRev: r.revision }], why: '' };
}

const stateKey = (s: KeyState): string => `${s.lo}|${s.modRev ?? ''}|${s.value === undefined ? '-' : `=${s.value}`}`;

type SearchOutcome =
  | { outcome: 'ok'; steps: number }
  | { outcome: 'unknown' }
  | { outcome: 'violation'; steps: number; best: HistoryOp[]; bestState: KeyState; stuck: string[] };

/** A small seeded generator for the Zobrist values (mulberry32). */
function zobrist(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) >>> 0;
  }
  return out;
}

/**
 * The entry list: entry 2i is op i's call, 2i+1 its return; `head` (index 2n) is a sentinel.
 * Ops without an answer return at +infinity (after everything). At equal times calls come
 * first (the ops overlap).
 */
function entryList(ops: readonly HistoryOp[]): { next: Int32Array; prev: Int32Array; head: number } {
  const n = ops.length;
  const entries = Array.from({ length: 2 * n }, (_, e) => e);
  const timeOf = (e: number): number => (e % 2 === 0 ? ops[e >> 1]!.call : ops[e >> 1]!.ret ?? Infinity);
  entries.sort((x, y) => timeOf(x) - timeOf(y) || (x % 2) - (y % 2) || x - y);
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  let last = 2 * n;
  for (const e of entries) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  return { next, prev, head: 2 * n };
}

/**
 * Maybe-applied puts whose value nobody observed (no get returned it, no CAS expects it) are
 * interchangeable: whichever is applied, every later step sees "a value nobody looks for". By an
 * exchange argument the earliest-invoked unused one can always be the one applied, so the
 * search only ever applies the head of this queue (without it, k such puts cost 2^k).
 */
function unobservedMaybePuts(ops: readonly HistoryOp[]): number[] {
  const observed = new Set<string>();
  for (const h of ops) {
    if (h.result?.kind === 'get' && h.result.value !== undefined) observed.add(h.result.value);
    if (h.op.kind === 'cas') observed.add(h.op.expected);
  }
  const queue = ops.flatMap((h, i) => (h.result === undefined && h.op.kind === 'put' && !observed.has(h.op.value) ? [i] : []));
  return queue.sort((a, b) => ops[a]!.call - ops[b]!.call || a - b);
}

/** Wing–Gong–Lowe over one key's ops; done once every answered op is linearized. */
function searchKey(ops: readonly HistoryOp[], ctx: KeyContext): SearchOutcome {
  const n = ops.length;
  const answered = ops.filter((h) => h.result !== undefined).length;
  let answeredDone = 0;
  const queue = unobservedMaybePuts(ops);
  const queued = new Set(queue);
  let queueUsed = 0;
  const { next, prev, head } = entryList(ops);
  const lift = (i: number): void => {
    for (const e of [2 * i, 2 * i + 1]) { next[prev[e]!] = next[e]!; if (next[e]! >= 0) prev[next[e]!] = prev[e]!; }
  };
  const unlift = (i: number): void => {
    for (const e of [2 * i + 1, 2 * i]) { if (next[e]! >= 0) prev[next[e]!] = e; next[prev[e]!] = e; }
  };
  const zLo = zobrist(n, 0x9e3779b9);
  const zHi = zobrist(n, 0x85ebca6b);
  const cache = new Set<string>();
  const stack: Array<{ i: number; before: KeyState }> = [];
  let state = ctx.initial;
  let hLo = 0;
  let hHi = 0;
  let best: { ops: number[]; state: KeyState } = { ops: [], state };
  let steps = 0;
  let entry = next[head]!;
  while (answeredDone < answered) {
    if (++steps > ctx.budget) return { outcome: 'unknown' };
    if (entry % 2 === 0) {
      const i = entry >> 1;
      if (queued.has(i) && queue[queueUsed] !== i) {
        entry = next[entry]!;
        continue;
      }
      const moved = stepKey(state, ops[i]!, ctx).next.find((s) => {
        const k = `${stack.length + 1}:${(hLo ^ zLo[i]!) >>> 0}:${(hHi ^ zHi[i]!) >>> 0}:${stateKey(s)}`;
        if (cache.has(k)) return false;
        cache.add(k);
        return true;
      });
      if (moved === undefined) {
        entry = next[entry]!;
        continue;
      }
      stack.push({ i, before: state });
      if (ops[i]!.result !== undefined) answeredDone++;
      if (queued.has(i)) queueUsed++;
      state = moved;
      hLo = (hLo ^ zLo[i]!) >>> 0;
      hHi = (hHi ^ zHi[i]!) >>> 0;
      lift(i);
      if (stack.length > best.ops.length) best = { ops: stack.map((f) => f.i), state };
      entry = next[head]!;
      continue;
    }
    const top = stack.pop();
    if (top === undefined) return { ...stuckAt(ops, best, ctx), steps };
    state = top.before;
    if (ops[top.i]!.result !== undefined) answeredDone--;
    if (queued.has(top.i)) queueUsed--;
    hLo = (hLo ^ zLo[top.i]!) >>> 0;
    hHi = (hHi ^ zHi[top.i]!) >>> 0;
    unlift(top.i);
    entry = 2 * top.i; // retry it: successors already explored are in the cache
  }
  assert.ok(stack.length <= n && next[head]! !== head, 'every answered op linearized');
  return { outcome: 'ok', steps };
}

/** The best partial linearization and, for each op that could go right after it, why it cannot. */
function stuckAt(ops: readonly HistoryOp[], best: { ops: number[]; state: KeyState }, ctx: KeyContext): Omit<Extract<SearchOutcome, { outcome: 'violation' }>, 'steps'> {
  const done = new Set(best.ops);
  const rest = ops.map((h, i) => ({ h, i })).filter(({ i }) => !done.has(i));
  const firstRet = Math.min(...rest.map(({ h }) => h.ret ?? Infinity));
  const stuck = rest
    .filter(({ h }) => h.call <= firstRet) // only ops not forced after an unlinearized one
    .map(({ h }) => `  ${describeOp(h)}: ${stepKey(best.state, h, ctx).why || 'fits here, but nothing fits after it'}`);
  return { outcome: 'violation', best: best.ops.map((i) => ops[i]!), bestState: best.state, stuck };
}

// ---- explaining a violation ------------------------------------------------------------

/** A sub-history to search, with the context it is searched in. */
interface Part {
  ops: HistoryOp[];
  ctx: KeyContext;
}

/**
 * The ops as they were known at time `t`: later answers become "no answer" (gets dropped), and
 * the revisions those writes created are free again in the prefix.
 */
function prefixAt(ops: readonly HistoryOp[], ctx: KeyContext, t: number): Part {
  const out: HistoryOp[] = [];
  const known = new Set(ctx.knownWrites);
  for (const h of ops) {
    if (h.call > t) continue;
    if (h.ret !== undefined && h.ret <= t) {
      out.push(h);
      continue;
    }
    const rev = writeRevision(h);
    if (rev !== undefined) known.delete(rev);
    if (h.op.kind !== 'get') out.push({ id: h.id, client: h.client, call: h.call, op: h.op });
  }
  return { ops: out, ctx: { ...ctx, knownWrites: known } };
}

const fails = (p: Part): boolean => searchKey(p.ops, p.ctx).outcome === 'violation';

/** The shortest failing prefix: linearizability is prefix-closed, so binary search works. */
function shortestFailingPrefix(ops: readonly HistoryOp[], ctx: KeyContext): Part {
  const ends = ops.filter((h) => h.ret !== undefined).map((h) => h.ret!).sort((a, b) => a - b);
  let lo = 0;
  let hi = ends.length - 1;
  const whole = prefixAt(ops, ctx, Infinity);
  assert.ok(fails(whole), 'the whole key history fails');
  if (hi < 0 || !fails(prefixAt(ops, ctx, ends[hi]!))) return whole; // only maybe-applied ops come later
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fails(prefixAt(ops, ctx, ends[mid]!))) hi = mid;
    else lo = mid + 1;
  }
  return prefixAt(ops, ctx, ends[hi]!);
}

/**
 * Drops the ops before the latest quiet point (a time no op spans, with every earlier op
 * answered) after which the rest still fails, starting from the one state every linearization
 * of the earlier ops ends in: the value of the highest-revision write, at the highest revision.
 */
function fromLastQuietPoint(p: Part): Part {
  const ops = [...p.ops].sort((a, b) => a.call - b.call);
  let reachMs = -Infinity; // the latest completion among ops[0..i)
  const quiet: number[] = [];
  for (let i = 0; i < ops.length; i++) {
    if (i > 0 && reachMs < ops[i]!.call) quiet.push(i);
    reachMs = Math.max(reachMs, ops[i]!.ret ?? Infinity);
  }
  for (const i of quiet.reverse()) {
    let state = p.ctx.initial;
    for (const h of ops.slice(0, i)) {
      const r = h.result!;
      assert.ok(r !== undefined, 'ops before a quiet point are answered');
      const w = writeRevision(h);
      if (w !== undefined && w > (state.modRev ?? -Infinity)) state = { value: h.op.kind === 'get' ? undefined : h.op.value, lo: state.lo, modRev: w };
      state = { ...state, lo: Math.max(state.lo, r.revision) };
    }
    const rest: Part = { ops: ops.slice(i), ctx: { ...p.ctx, initial: state } };
    if (fails(rest)) return rest;
  }
  return p;
}

/** Removes reads that the failure does not need (removing a read keeps a linearizable history so). */
function withoutIdleReads(p: Part, keep: HistoryOp | undefined): Part {
  let ops = p.ops;
  let attempts = 0;
  let steps = 0;
  // Latest first: reads near the failure are the likeliest to matter, and the earlier ones go
  // quickly once those are settled.
  for (const h of [...ops].reverse()) {
    if (attempts >= SHRINK_ATTEMPTS_MAX || steps >= SHRINK_STEPS_MAX) break;
    const isRead = h.result !== undefined && (h.result.kind === 'get' || (h.result.kind === 'cas' && !h.result.succeeded));
    if (!isRead || h === keep) continue;
    attempts++;
    const without = ops.filter((x) => x !== h);
    const r = searchKey(without, p.ctx);
    steps += r.outcome === 'unknown' ? p.ctx.budget : r.steps;
    if (r.outcome === 'violation') ops = without;
  }
  return { ops, ctx: p.ctx };
}

function explainKey(ops: readonly HistoryOp[], ctx: KeyContext): Violation {
  const prefix = shortestFailingPrefix(ops, ctx);
  const lastRet = Math.max(...prefix.ops.map((h) => h.ret ?? -Infinity));
  const last = prefix.ops.find((h) => h.ret === lastRet);
  const part = withoutIdleReads(fromLastQuietPoint(prefix), last);
  const r = searchKey(part.ops, part.ctx);
  assert.ok(r.outcome === 'violation', 'the explanation still fails');
  const start = part.ctx.initial;
  const message = `key ${JSON.stringify(ctx.key)} is not linearizable once ${last === undefined ? 'the history ends' : `op #${last.id} completes`}`;
  const lines = [
    `${message} (${part.ops.length} of its ${ops.length} ops explain it):`,
    `  from ${ctx.key} = ${start.value ?? 'absent'} at revision ${start.lo}` + (start === ctx.initial ? ' (the start)' : ' (where every earlier op has completed)'),
    ...part.ops.slice(-REPORT_OPS_MAX).map((h) => `  ${describeOp(h)}`),
    `longest linearization found (${r.best.length} ops): ${r.best.slice(-REPORT_OPS_MAX).map((h) => `#${h.id}`).join(' ')}`,
    `  leaving ${ctx.key} = ${r.bestState.value ?? 'absent'}, last op at revision ${r.bestState.lo}; no op can go next:`,
    ...r.stuck.slice(0, REPORT_OPS_MAX),
  ];
  return { key: ctx.key, message, ops: part.ops, report: lines.join('\n') };
}
