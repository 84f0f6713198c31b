// The history a linearizability check reads: operations on a KV register (put, get, and
// compare-and-swap on a value), each with the client that issued it, its invocation time and,
// if it got an answer, its completion time and result. Times are monotonic milliseconds
// (performance.now()); only their order matters.
//
// An operation without an answer (the request failed, timed out, or the member died) may have
// taken effect at any point after its invocation, or never: a put or CAS becomes "maybe
// applied". A get without an answer constrains nothing and is dropped by the checker.
//
// Revisions are etcd's: one global counter, +1 per successful write, in linearization order.
// A write's result carries the revision it created; a get's, and a failed CAS's, the store
// revision it read at (the response header's).

export type KvOp =
  | { kind: 'put'; key: string; value: string }
  | { kind: 'get'; key: string }
  /** Writes `value` if the key exists and holds `expected` (etcd: a VALUE compare on a missing key fails). */
  | { kind: 'cas'; key: string; expected: string; value: string };

export type KvResult =
  | { kind: 'put'; revision: number }
  /** `value` undefined: the key is absent. `modRevision`, when given, is also checked. */
  | { kind: 'get'; value: string | undefined; revision: number; modRevision?: number }
  /** `revision`: the new revision when succeeded, else the revision compared at. */
  | { kind: 'cas'; succeeded: boolean; revision: number };

export interface HistoryOp {
  /** Unique within the history (the recorder numbers ops in invocation order). */
  id: number;
  client: number;
  /** Invocation time, ms. */
  call: number;
  /** Completion time, ms; absent when the op got no answer (maybe applied). */
  ret?: number;
  op: KvOp;
  /** Present exactly when `ret` is. */
  result?: KvResult;
}

/** One line per op, for reports: `#7 c2 [10.31, 11.02] cas k1 v3->v9 => ok @8`. */
export function describeOp(h: HistoryOp): string {
  const when = `[${h.call.toFixed(2)}, ${h.ret === undefined ? '...' : h.ret.toFixed(2)}]`;
  const o = h.op;
  const what = o.kind === 'put' ? `put ${o.key}=${o.value}`
    : o.kind === 'get' ? `get ${o.key}`
      : `cas ${o.key} ${o.expected}->${o.value}`;
  return `#${h.id} c${h.client} ${when} ${what} => ${describeResult(h.result)}`;
}

function describeResult(r: KvResult | undefined): string {
  if (r === undefined) return 'no answer (maybe applied)';
  switch (r.kind) {
    case 'put': return `@${r.revision}`;
    case 'get': return `${r.value === undefined ? 'absent' : r.value} @${r.revision}${r.modRevision === undefined ? '' : ` mod ${r.modRevision}`}`;
    case 'cas': return `${r.succeeded ? 'ok' : 'failed'} @${r.revision}`;
  }
}

/** True when the result answers this op (same kind). */
export function resultMatches(h: HistoryOp): boolean {
  return h.result === undefined ? h.ret === undefined : h.ret !== undefined && h.result.kind === h.op.kind && h.ret >= h.call;
}
