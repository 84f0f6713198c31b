// Recording a history for the linearizability checker (history.ts, checker.ts): a client calls
// `invoke` right before it sends a request and `ok` (with the result) or `fail` right after the
// answer or error, with monotonic times from performance.now(). `fail` means "no answer": the
// op may have taken effect (a put or CAS becomes maybe-applied; a get is dropped). `abandon`
// is for a request that provably never reached a member (connection refused): it is forgotten.
//
// Also here: the three ops over etcd's JSON API (put, linearizable get, CAS as a txn comparing
// VALUE then putting), recorded. A cluster test uses the same calls against any member.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { b64, post, unb64 } from '../helpers/kv-client.js';
import type { HistoryOp, KvOp, KvResult } from './history.js';

/** Ops one recorder keeps; a test that needs more is too long for the checker anyway. */
export const RECORDED_OPS_MAX = 100_000;

export class Recorder {
  /** Every op invoked, in invocation order; `open` holds the ids still waiting for an answer. */
  private readonly ops = new Map<number, HistoryOp>();
  private readonly open = new Set<number>();
  private nextId = 0;

  /** Records an invocation now; returns the op's id for ok/fail/abandon. */
  invoke(client: number, op: KvOp): number {
    assert.ok(this.ops.size < RECORDED_OPS_MAX, `more than ${RECORDED_OPS_MAX} ops recorded`);
    const id = this.nextId++;
    this.ops.set(id, { id, client, call: performance.now(), op });
    this.open.add(id);
    return id;
  }

  ok(id: number, result: KvResult): void {
    const h = this.close(id);
    assert.equal(result.kind, h.op.kind, `op ${id}: a ${result.kind} result for a ${h.op.kind}`);
    h.ret = performance.now();
    h.result = result;
  }

  /** No answer: the op may or may not have taken effect. */
  fail(id: number): void {
    this.close(id);
  }

  /** Never sent (or refused before any member read it): as if it had not been invoked. */
  abandon(id: number): void {
    this.close(id);
    this.ops.delete(id);
  }

  /** The history so far; ops still open count as having no answer. */
  history(): HistoryOp[] {
    return [...this.ops.values()].map((h) => ({ ...h }));
  }

  get size(): number {
    return this.ops.size;
  }

  private close(id: number): HistoryOp {
    const h = this.ops.get(id);
    assert.ok(h !== undefined && this.open.delete(id), `op ${id} is not open`);
    return h;
  }
}

/** True when the request provably never reached the server (nothing can have been applied). */
export function neverSent(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } } | undefined)?.cause;
  return cause?.code === 'ECONNREFUSED';
}

/** Runs one op against `url` over the JSON API and records it; returns the result or undefined. */
export async function recordedOp(rec: Recorder, client: number, url: string, op: KvOp): Promise<KvResult | undefined> {
  const id = rec.invoke(client, op);
  let result: KvResult;
  try {
    result = await send(url, op);
  } catch (err) {
    if (neverSent(err)) rec.abandon(id);
    else rec.fail(id);
    return undefined;
  }
  rec.ok(id, result);
  return result;
}

async function send(url: string, op: KvOp): Promise<KvResult> {
  const key = b64(op.key);
  if (op.kind === 'put') {
    const a = await post(url, '/v3/kv/put', { key, value: b64(op.value) });
    return { kind: 'put', revision: revisionOf(a, 'put') };
  }
  if (op.kind === 'get') {
    const a = await post(url, '/v3/kv/range', { key });
    const kv = (a.body.kvs ?? [])[0] as { value?: string; mod_revision?: string } | undefined;
    const revision = revisionOf(a, 'range');
    if (kv === undefined) return { kind: 'get', value: undefined, revision };
    return { kind: 'get', value: unb64(kv.value), revision, modRevision: Number(kv.mod_revision) };
  }
  const a = await post(url, '/v3/kv/txn', {
    compare: [{ key, target: 'VALUE', result: 'EQUAL', value: b64(op.expected) }],
    success: [{ request_put: { key, value: b64(op.value) } }],
  });
  return { kind: 'cas', succeeded: a.body.succeeded === true, revision: revisionOf(a, 'txn') };
}

/** The header revision of a 200 answer; any other answer throws (recorded as no answer). */
function revisionOf(a: { status: number; body: Record<string, any> }, what: string): number {
  if (a.status !== 200) throw new Error(`${what}: ${a.status} ${JSON.stringify(a.body)}`);
  const revision = Number(a.body.header?.revision);
  assert.ok(Number.isSafeInteger(revision) && revision >= 1, `${what}: header revision ${a.body.header?.revision}`);
  return revision;
}
