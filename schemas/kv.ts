// zod schemas of the KV service's JSON requests (etcdserverpb.KV: Range, Put, DeleteRange, Txn,
// Compact), field for field in proto declaration order (see jsonpb.ts for why order matters).
// They check and parse the JSON form only; the gateway's codec turns the result into the
// internal request model (src/api/types.ts), and the member checks etcd's semantic rules (empty
// key, too many ops, ...), as etcd's v3rpc layer does after decoding.
//
// Field numbers are noted because the gRPC size limit is computed on the protobuf encoding
// (src/gateway/proto-size.ts).

import { bool, bytes, enumOf, int64, message, messageDecoder, repeated } from './jsonpb.js';
import type { Decoder, MessageOf } from './jsonpb.js';

export const SORT_ORDER_NAMES = ['NONE', 'ASCEND', 'DESCEND'] as const;
export const SORT_TARGET_NAMES = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'] as const;
export const COMPARE_RESULT_NAMES = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'] as const;
export const COMPARE_TARGET_NAMES = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'] as const;

const rangeShape = {
  key: bytes, // 1
  range_end: bytes, // 2
  limit: int64, // 3
  revision: int64, // 4
  sort_order: enumOf('etcdserverpb.RangeRequest_SortOrder', SORT_ORDER_NAMES), // 5
  sort_target: enumOf('etcdserverpb.RangeRequest_SortTarget', SORT_TARGET_NAMES), // 6
  serializable: bool, // 7
  keys_only: bool, // 8
  count_only: bool, // 9
  min_mod_revision: int64, // 10
  max_mod_revision: int64, // 11
  min_create_revision: int64, // 12
  max_create_revision: int64, // 13
};
export const RangeRequestJson = message(rangeShape);
export type RangeRequestJson = MessageOf<typeof rangeShape>;

const putShape = {
  key: bytes, // 1
  value: bytes, // 2
  lease: int64, // 3
  prev_kv: bool, // 4
  ignore_value: bool, // 5
  ignore_lease: bool, // 6
};
export const PutRequestJson = message(putShape);
export type PutRequestJson = MessageOf<typeof putShape>;

const deleteRangeShape = {
  key: bytes, // 1
  range_end: bytes, // 2
  prev_kv: bool, // 3
};
export const DeleteRangeRequestJson = message(deleteRangeShape);
export type DeleteRangeRequestJson = MessageOf<typeof deleteRangeShape>;

const compareShape = {
  result: enumOf('etcdserverpb.Compare_CompareResult', COMPARE_RESULT_NAMES), // 1
  target: enumOf('etcdserverpb.Compare_CompareTarget', COMPARE_TARGET_NAMES), // 2
  key: bytes, // 3
  range_end: bytes, // 64
  // oneof target_union: jsonpb reads oneof members after the regular fields.
  version: int64, // 4
  create_revision: int64, // 5
  mod_revision: int64, // 6
  value: bytes, // 7
  lease: int64, // 8
};
export const CompareJson = message(compareShape);
export type CompareJson = MessageOf<typeof compareShape>;

/** RequestOp's oneof `request`; several members given: the codec takes the first in this order. */
export interface RequestOpJson {
  request_range?: RangeRequestJson; // 1
  request_put?: PutRequestJson; // 2
  request_delete_range?: DeleteRangeRequestJson; // 3
  request_txn?: TxnRequestJson; // 4
}

export interface TxnRequestJson {
  compare?: CompareJson[]; // 1
  success?: RequestOpJson[]; // 2
  failure?: RequestOpJson[]; // 3
}

// TxnRequest and RequestOp refer to each other, hence the function declarations.
const decodeRequestOp: Decoder<RequestOpJson> = (v) => requestOpDecoder(v);
const decodeTxn: Decoder<TxnRequestJson> = (v) => txnDecoder(v);

const requestOpDecoder: Decoder<RequestOpJson> = messageDecoder({
  request_range: RangeRequestJson.decode,
  request_put: PutRequestJson.decode,
  request_delete_range: DeleteRangeRequestJson.decode,
  request_txn: decodeTxn,
});

const txnShape = {
  compare: repeated(CompareJson.decode), // 1
  success: repeated(decodeRequestOp), // 2
  failure: repeated(decodeRequestOp), // 3
};
const txnDecoder: Decoder<TxnRequestJson> = messageDecoder(txnShape);
export const TxnRequestJson = message(txnShape);

const compactionShape = {
  revision: int64, // 1
  physical: bool, // 2
};
export const CompactionRequestJson = message(compactionShape);
export type CompactionRequestJson = MessageOf<typeof compactionShape>;
