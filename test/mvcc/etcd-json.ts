// Test helper: our request/response records <-> etcd's v3 JSON gateway form (grpc-gateway: bytes
// as base64, int64 as strings, zero values omitted, snake_case names), so that the store's
// answers can be compared with what a real etcd answered for the same steps.
import type {
  Compare, DeleteRangeRequest, KeyValue, PutRequest, RangeRequest, RequestOp, ResponseOp, TxnRequest,
} from '../../src/api/types.js';

type Json = { [k: string]: unknown };

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

function omitZero(o: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === false || v === '' || v === '0' || v === 0) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out;
}

export function kvJson(kv: KeyValue): Json {
  return omitZero({
    key: b64(kv.key), create_revision: String(kv.createRevision), mod_revision: String(kv.modRevision),
    version: String(kv.version), value: b64(kv.value), lease: String(kv.lease),
  });
}

function headerJson(h: { revision: number }): Json {
  return omitZero({ revision: String(h.revision) });
}

/** Any response of ours in etcd's JSON form (header ids/term left out, as the compat suite does). */
export function responseJson(r: unknown): Json {
  const o = r as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'header') out.header = headerJson(v as { revision: number });
    else if (k === 'kvs' || k === 'prevKvs') out[k === 'kvs' ? 'kvs' : 'prev_kvs'] = (v as KeyValue[]).map(kvJson);
    else if (k === 'prevKv') out.prev_kv = v === undefined ? undefined : kvJson(v as KeyValue);
    else if (k === 'count' || k === 'deleted') out[k] = String(v);
    else if (k === 'responses') out.responses = (v as ResponseOp[]).map(responseOpJson);
    else out[k] = v;
  }
  return omitZero(out);
}

function responseOpJson(op: ResponseOp): Json {
  const [k, v] = Object.entries(op)[0]!;
  const name = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return { [name]: responseJson(v) };
}

export function rangeReqJson(q: RangeRequest): Json {
  return omitZero({
    key: b64(q.key), range_end: q.rangeEnd && b64(q.rangeEnd), limit: q.limit?.toString(), revision: q.revision?.toString(),
    sort_order: q.sortOrder, sort_target: q.sortTarget, keys_only: q.keysOnly, count_only: q.countOnly,
    min_mod_revision: q.minModRevision?.toString(), max_mod_revision: q.maxModRevision?.toString(),
    min_create_revision: q.minCreateRevision?.toString(), max_create_revision: q.maxCreateRevision?.toString(),
  });
}

export function putReqJson(p: PutRequest): Json {
  return omitZero({
    key: b64(p.key), value: b64(p.value), lease: p.lease?.toString(), prev_kv: p.prevKv,
    ignore_value: p.ignoreValue, ignore_lease: p.ignoreLease,
  });
}

export function deleteReqJson(d: DeleteRangeRequest): Json {
  return omitZero({ key: b64(d.key), range_end: d.rangeEnd && b64(d.rangeEnd), prev_kv: d.prevKv });
}

function compareJson(c: Compare): Json {
  return omitZero({
    result: c.result, target: c.target, key: b64(c.key), range_end: c.rangeEnd && b64(c.rangeEnd),
    version: c.version?.toString(), create_revision: c.createRevision?.toString(), mod_revision: c.modRevision?.toString(),
    value: c.value && b64(c.value), lease: c.lease?.toString(),
  });
}

function opJson(op: RequestOp): Json {
  if ('requestRange' in op) return { request_range: rangeReqJson(op.requestRange) };
  if ('requestPut' in op) return { request_put: putReqJson(op.requestPut) };
  if ('requestDeleteRange' in op) return { request_delete_range: deleteReqJson(op.requestDeleteRange) };
  return { request_txn: txnReqJson(op.requestTxn) };
}

export function txnReqJson(t: TxnRequest): Json {
  return { compare: t.compare.map(compareJson), success: t.success.map(opJson), failure: t.failure.map(opJson) };
}
