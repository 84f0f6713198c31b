// The protobuf-encoded size of a decoded JSON request, for etcd's request size limit.
//
// etcd's gateway re-sends every JSON request as a gRPC message, and etcd's gRPC server refuses
// messages over --max-request-bytes plus 512 KiB of gRPC overhead with ResourceExhausted:
// `grpc: received message larger than max (3145733 vs. 2097152)` (HTTP 429). The first number
// is the encoded message size, so to answer like etcd we compute exactly that size (proto3
// rules: zero values are not encoded, a set oneof/message member always is). Larger-but-legal
// requests (a 1.6 MiB put) pass this check and get `request is too large` from the member.

import assert from 'node:assert/strict';
import type {
  CompactionRequestJson, CompareJson, DeleteRangeRequestJson, PutRequestJson, RangeRequestJson,
  RequestOpJson, TxnRequestJson,
} from '../../schemas/kv.js';

/** etcd's fixed allowance for gRPC framing on top of --max-request-bytes (embed/config.go). */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;

/** Bytes of a varint; negative int64 values take ten. */
export function varintSize(v: bigint | number): number {
  let n = BigInt(v);
  if (n < 0n) return 10;
  let size = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    size++;
  }
  return size;
}

const tagSize = (field: number): number => varintSize(field << 3);

const intField = (field: number, v: bigint | number | undefined): number =>
  v === undefined || v === 0n || v === 0 ? 0 : tagSize(field) + varintSize(v);
const boolField = (field: number, v: boolean | undefined): number => (v === true ? tagSize(field) + 1 : 0);
const bytesField = (field: number, v: Uint8Array | undefined): number =>
  v === undefined || v.length === 0 ? 0 : tagSize(field) + varintSize(v.length) + v.length;
/** An embedded message that is set (even when empty). */
const messageField = (field: number, size: number): number => tagSize(field) + varintSize(size) + size;

export function rangeRequestSize(j: RangeRequestJson): number {
  return bytesField(1, j.key) + bytesField(2, j.range_end) + intField(3, j.limit) + intField(4, j.revision) +
    intField(5, j.sort_order) + intField(6, j.sort_target) + boolField(7, j.serializable) + boolField(8, j.keys_only) +
    boolField(9, j.count_only) + intField(10, j.min_mod_revision) + intField(11, j.max_mod_revision) +
    intField(12, j.min_create_revision) + intField(13, j.max_create_revision);
}

export function putRequestSize(j: PutRequestJson): number {
  return bytesField(1, j.key) + bytesField(2, j.value) + intField(3, j.lease) + boolField(4, j.prev_kv) +
    boolField(5, j.ignore_value) + boolField(6, j.ignore_lease);
}

export function deleteRangeRequestSize(j: DeleteRangeRequestJson): number {
  return bytesField(1, j.key) + bytesField(2, j.range_end) + boolField(3, j.prev_kv);
}

export function compactionRequestSize(j: CompactionRequestJson): number {
  return intField(1, j.revision) + boolField(2, j.physical);
}

/** A oneof member that is set is encoded even when zero, so its field always counts. */
function compareSize(j: CompareJson): number {
  const union = (field: number, v: bigint | undefined): number =>
    v === undefined ? 0 : tagSize(field) + varintSize(v);
  return intField(1, j.result) + intField(2, j.target) + bytesField(3, j.key) + union(4, j.version) +
    union(5, j.create_revision) + union(6, j.mod_revision) +
    (j.value === undefined ? 0 : tagSize(7) + varintSize(j.value.length) + j.value.length) +
    union(8, j.lease) + bytesField(64, j.range_end);
}

function requestOpSize(j: RequestOpJson): number {
  if (j.request_range !== undefined) return messageField(1, rangeRequestSize(j.request_range));
  if (j.request_put !== undefined) return messageField(2, putRequestSize(j.request_put));
  if (j.request_delete_range !== undefined) return messageField(3, deleteRangeRequestSize(j.request_delete_range));
  if (j.request_txn !== undefined) return messageField(4, txnRequestSize(j.request_txn));
  return 0;
}

export function txnRequestSize(j: TxnRequestJson): number {
  let size = 0;
  for (const c of j.compare ?? []) size += messageField(1, compareSize(c));
  for (const op of j.success ?? []) size += messageField(2, requestOpSize(op));
  for (const op of j.failure ?? []) size += messageField(3, requestOpSize(op));
  assert.ok(size >= 0);
  return size;
}
