// Pure evaluation helpers for range and txn compares, applied exactly as etcd 3.4's apply layer
// applies them (etcdserver/apply.go). Checked against a real etcd 3.4.23:
// - `count` is the number of keys in the range at the revision, before any filter and limit;
// - with a sort order or any of the four revision filters, every key is fetched, the filters
//   prune, the sort sorts, and only then the limit truncates (so `more` means "more keys passed
//   the filters"); without them, limit+1 keys are fetched and `more` is count > limit;
// - a filter applies when it is non-zero, so a negative max_mod_revision prunes every key;
// - sort_order NONE with a target other than KEY sorts ASCEND; KEY + NONE is key order;
// - keys_only drops values; count_only returns no kvs and never sets `more`;
// - a compare on keys that do not exist compares a zero KeyValue, except VALUE, which is false;
//   over a range, every existing key must satisfy the compare.
import type { Compare, KeyValue, RangeRequest, RangeResponse, ResponseHeader } from '../api/types.js';
import { EtcdError, GrpcCode } from '../api/errors.js';
import { compareBytes } from './backend.js';

/**
 * Largest range response we build, in key + value bytes: etcd has no range limit of its own but
 * its gRPC server refuses to send a message over math.MaxInt32 bytes; we answer as it does.
 */
export const RANGE_RESPONSE_BYTES_MAX = 2 ** 31 - 1;

const EMPTY = new Uint8Array(0);

export function header(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision, raftTerm: 0 };
}

function hasFilter(req: RangeRequest): boolean {
  return (req.minModRevision ?? 0) !== 0 || (req.maxModRevision ?? 0) !== 0 ||
    (req.minCreateRevision ?? 0) !== 0 || (req.maxCreateRevision ?? 0) !== 0;
}

/** How many kvs the store must fetch for `req`: 0 means all of them. */
export function rangeFetchLimit(req: RangeRequest): number {
  if ((req.sortOrder ?? 'NONE') !== 'NONE' || hasFilter(req)) return 0;
  const limit = req.limit ?? 0;
  return limit > 0 ? limit + 1 : 0;
}

function sortKey(target: string): (a: KeyValue, b: KeyValue) => number {
  switch (target) {
    case 'KEY': return (a, b) => compareBytes(a.key, b.key);
    case 'VERSION': return (a, b) => a.version - b.version;
    case 'CREATE': return (a, b) => a.createRevision - b.createRevision;
    case 'MOD': return (a, b) => a.modRevision - b.modRevision;
    case 'VALUE': return (a, b) => compareBytes(a.value, b.value);
    default: throw EtcdError.invalidArgument(`invalid sort target ${target}`);
  }
}

/** Filters, sorts, limits and shapes fetched kvs (in key order) into a RangeResponse. */
export function finishRange(req: RangeRequest, fetched: KeyValue[], count: number, revision: number): RangeResponse {
  let kvs = fetched;
  const { minModRevision: minMod = 0, maxModRevision: maxMod = 0 } = req;
  const { minCreateRevision: minCreate = 0, maxCreateRevision: maxCreate = 0 } = req;
  if (maxMod !== 0) kvs = kvs.filter((kv) => kv.modRevision <= maxMod);
  if (minMod !== 0) kvs = kvs.filter((kv) => kv.modRevision >= minMod);
  if (maxCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate);
  if (minCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision >= minCreate);
  const target = req.sortTarget ?? 'KEY';
  let order = req.sortOrder ?? 'NONE';
  if (target !== 'KEY' && order === 'NONE') order = 'ASCEND';
  if (order !== 'NONE') {
    const cmp = sortKey(target);
    // Stable, so ties keep key order both ways (what etcd's insertion sort does for small sets).
    kvs = kvs === fetched ? kvs.slice() : kvs;
    kvs.sort(order === 'ASCEND' ? cmp : (a, b) => cmp(b, a));
  }
  let more = false;
  const limit = req.limit ?? 0;
  if (limit > 0 && kvs.length > limit) {
    kvs = kvs.slice(0, limit);
    more = true;
  }
  if (req.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
  checkResponseSize(kvs);
  return { header: header(revision), kvs, more, count };
}

function checkResponseSize(kvs: readonly KeyValue[]): void {
  let bytes = 0;
  for (const kv of kvs) bytes += kv.key.length + kv.value.length;
  if (bytes > RANGE_RESPONSE_BYTES_MAX) {
    throw new EtcdError(GrpcCode.ResourceExhausted,
      `grpc: trying to send message larger than max (${bytes} vs. ${RANGE_RESPONSE_BYTES_MAX})`);
  }
}

const ZERO_KV: KeyValue = { key: EMPTY, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0n };

/** Whether compare `c` holds over `kvs`, the existing keys of its range at the txn's revision. */
export function compareHolds(c: Compare, kvs: readonly KeyValue[]): boolean {
  if (kvs.length === 0) return c.target === 'VALUE' ? false : compareKv(c, ZERO_KV);
  for (const kv of kvs) if (!compareKv(c, kv)) return false;
  return true;
}

function compareKv(c: Compare, kv: KeyValue): boolean {
  let result: number;
  switch (c.target) {
    case 'VALUE': result = compareBytes(kv.value, c.value ?? EMPTY); break;
    case 'CREATE': result = Math.sign(kv.createRevision - (c.createRevision ?? 0)); break;
    case 'MOD': result = Math.sign(kv.modRevision - (c.modRevision ?? 0)); break;
    case 'VERSION': result = Math.sign(kv.version - (c.version ?? 0)); break;
    case 'LEASE': {
      const want = c.lease ?? 0n;
      result = kv.lease === want ? 0 : kv.lease < want ? -1 : 1;
      break;
    }
    default: throw EtcdError.invalidArgument(`invalid compare target ${String(c.target)}`);
  }
  switch (c.result) {
    case 'EQUAL': return result === 0;
    case 'NOT_EQUAL': return result !== 0;
    case 'GREATER': return result > 0;
    case 'LESS': return result < 0;
    default: throw EtcdError.invalidArgument(`invalid compare result ${String(c.result)}`);
  }
}
