// Client load for the long randomized cluster run (long.ts): clients doing random puts,
// linearizable gets, compare-and-swaps and deletes on a few keys, each op sent to a random
// member, every op recorded for the checker (test/linearizability/record.ts, checker.ts).
//
// The checker's register model has no delete, so deletes are encoded into it without losing
// soundness: "absent" is a value of its own, TOMBSTONE, and every key of a round starts there
// (CheckOptions.initialValues). Then
//   - a get that finds the key absent reads TOMBSTONE (it carries no mod revision);
//   - a delete that removed the key (deleted > 0) is a put of TOMBSTONE at the revision it
//     created (it loses "the key was present before", so the check is weaker, never wrong);
//   - a delete that found nothing creates no revision (etcd: an empty txn does not bump it): it
//     is a read of TOMBSTONE at its header revision, exactly;
//   - a delete without an answer is a maybe-applied put of TOMBSTONE: the search may apply it
//     or not, which covers both "it removed the key" and "it found nothing".
// A CAS never expects TOMBSTONE (clients only expect values they wrote or read), so a CAS on an
// absent key fails in the model as etcd's VALUE compare on a missing key does.

import assert from 'node:assert/strict';
import { randomKvOp } from '../linearizability/generate.js';
import type { HistoryOp, KvOp, KvResult } from '../linearizability/history.js';
import { Recorder, neverSent } from '../linearizability/record.js';
import { b64, post, unb64 } from '../helpers/kv-client.js';
import { sleep } from '../helpers/cluster.js';

/** The model's value for "the key is absent". No client ever writes it. */
export const TOMBSTONE = '<absent>';
/** Share of ops that are deletes; the rest come from randomKvOp (40% get, 30% put, 30% CAS). */
const DELETE_SHARE = 0.12;
/** A client's pause after an op without an answer (its member may be down or frozen). */
const RETRY_PAUSE_MS = 50;

export type LongOp = KvOp | { kind: 'delete'; key: string };

/** One round's load: shared by its clients; `stopping` ends them after their current op. */
export interface Load {
  readonly rec: Recorder;
  /** Deletes that found the key absent (op id -> header revision): rewritten to reads. */
  readonly noopDeletes: Map<number, number>;
  /** Ops invoked over all clients; the clients stop at opsMax (bounds the history). */
  invoked: number;
  answered: number;
  deletes: number;
  readonly opsMax: number;
  stopping: boolean;
}

export function newLoad(opsMax: number): Load {
  assert.ok(Number.isSafeInteger(opsMax) && opsMax > 0, 'a positive op bound');
  return { rec: new Recorder(), noopDeletes: new Map(), invoked: 0, answered: 0, deletes: 0, opsMax, stopping: false };
}

/** The keys a round's clients use (every one starts absent: TOMBSTONE). */
export function roundKeys(prefix: string, keys: number): string[] {
  return Array.from({ length: keys }, (_, i) => `${prefix}lin/k${i}`);
}

/** One random op on `keys` keys under `prefix` (the key names are randomKvOp's). */
function nextOp(rand: () => number, client: number, n: number, lastSeen: Map<string, string>, keys: number, prefix: string): LongOp {
  if (rand() < DELETE_SHARE) return { kind: 'delete', key: `${prefix}lin/k${Math.floor(rand() * keys)}` };
  const op = randomKvOp(rand, client, n, lastSeen, keys);
  return { ...op, key: prefix + op.key };
}

/**
 * One client: ops against random members (`urls`) until the load stops or reaches its bound.
 * `lastSeen` is keyed by the full key; randomKvOp looks it up by its own key name, so the map
 * it gets is the per-prefix view.
 */
export async function runClient(load: Load, client: number, rand: () => number, urls: readonly string[], prefix: string, keys: number): Promise<void> {
  assert.ok(urls.length > 0 && keys > 0, 'members and keys to use');
  const lastSeen = new Map<string, string>();
  for (let n = 0; !load.stopping && load.invoked < load.opsMax; n++) {
    const url = urls[Math.floor(rand() * urls.length)]!;
    load.invoked++;
    const op = nextOp(rand, client, n, lastSeen, keys, prefix);
    const r = await recordedLongOp(load, client, url, op);
    if (r === undefined) {
      await sleep(RETRY_PAUSE_MS);
      continue;
    }
    load.answered++;
    const plain = op.key.slice(prefix.length);
    if (r.kind === 'get' && r.value !== undefined && r.value !== TOMBSTONE) lastSeen.set(plain, r.value);
    else if ((op.kind === 'put' || op.kind === 'cas') && (r.kind === 'put' || (r.kind === 'cas' && r.succeeded))) lastSeen.set(plain, op.value);
  }
}

/** Runs one op over the JSON API and records it in the model's terms (see the header). */
async function recordedLongOp(load: Load, client: number, url: string, op: LongOp): Promise<KvResult | undefined> {
  const modelOp: KvOp = op.kind === 'delete' ? { kind: 'put', key: op.key, value: TOMBSTONE } : op;
  if (op.kind === 'delete') load.deletes++;
  const id = load.rec.invoke(client, modelOp);
  let answer: { result: KvResult; noop: boolean };
  try {
    answer = await send(url, op);
  } catch (err) {
    if (neverSent(err)) load.rec.abandon(id);
    else load.rec.fail(id);
    return undefined;
  }
  load.rec.ok(id, answer.result);
  if (answer.noop) load.noopDeletes.set(id, answer.result.revision);
  return answer.result;
}

async function send(url: string, op: LongOp): Promise<{ result: KvResult; noop: boolean }> {
  const key = b64(op.key);
  switch (op.kind) {
    case 'put': {
      const a = await post(url, '/v3/kv/put', { key, value: b64(op.value) });
      return { result: { kind: 'put', revision: revisionOf(a, 'put') }, noop: false };
    }
    case 'get': {
      const a = await post(url, '/v3/kv/range', { key });
      const revision = revisionOf(a, 'range');
      const kv = ((a.body.kvs ?? []) as Array<{ value?: string; mod_revision?: string }>)[0];
      if (kv === undefined) return { result: { kind: 'get', value: TOMBSTONE, revision }, noop: false };
      const value = unb64(kv.value);
      assert.notEqual(value, TOMBSTONE, 'no client writes the tombstone');
      return { result: { kind: 'get', value, revision, modRevision: Number(kv.mod_revision) }, noop: false };
    }
    case 'cas': {
      const a = await post(url, '/v3/kv/txn', {
        compare: [{ key, target: 'VALUE', result: 'EQUAL', value: b64(op.expected) }],
        success: [{ request_put: { key, value: b64(op.value) } }],
      });
      return { result: { kind: 'cas', succeeded: a.body.succeeded === true, revision: revisionOf(a, 'txn') }, noop: false };
    }
    case 'delete': {
      const a = await post(url, '/v3/kv/deleterange', { key });
      const deleted = Number(a.body.deleted ?? 0);
      return { result: { kind: 'put', revision: revisionOf(a, 'deleterange') }, noop: deleted === 0 };
    }
  }
}

/** The header revision of a 200 answer; any other answer throws (recorded as no answer). */
function revisionOf(a: { status: number; body: Record<string, any> }, what: string): number {
  if (a.status !== 200) throw new Error(`${what}: ${a.status} ${JSON.stringify(a.body)}`);
  const revision = Number(a.body.header?.revision);
  assert.ok(Number.isSafeInteger(revision) && revision >= 1, `${what}: header revision ${a.body.header?.revision}`);
  return revision;
}

/**
 * The round's history for the checker: deletes that found nothing become reads of TOMBSTONE,
 * and `strays` maybe-applied puts on a key of their own stand for the previous round's
 * unanswered writes, which may still take effect (and take a revision) during this round.
 */
export function checkableHistory(load: Load, strays: number, strayKey: string): HistoryOp[] {
  const history = load.rec.history().map((h): HistoryOp => {
    const rev = load.noopDeletes.get(h.id);
    if (rev === undefined) return h;
    assert.ok(h.result?.kind === 'put' && h.result.revision === rev, 'a no-op delete was recorded with its revision');
    return { ...h, op: { kind: 'get', key: h.op.key }, result: { kind: 'get', value: TOMBSTONE, revision: rev } };
  });
  const firstCall = Math.min(0, ...history.map((h) => h.call));
  const nextId = history.reduce((m, h) => Math.max(m, h.id + 1), 0);
  for (let i = 0; i < strays; i++) {
    history.push({ id: nextId + i, client: -1, call: firstCall, op: { kind: 'put', key: strayKey, value: `stray-${i}` } });
  }
  return history;
}

/** Writes of the load that got no answer (each may still take effect later). */
export function unansweredWrites(load: Load): number {
  return load.rec.history().filter((h) => h.result === undefined && h.op.kind !== 'get').length;
}
