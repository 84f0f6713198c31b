// zod schema of the watch service's JSON request (etcdserverpb.WatchRequest), field for field in
// proto declaration order (see jsonpb.ts for why order matters), checked against etcd 3.4.23:
// `{"create_request":{"key":1}}` fails with `json: cannot unmarshal number into Go value of type
// []uint8`, an unknown filter name with `unknown value "BAD" for enum
// etcdserverpb.WatchCreateRequest_FilterType`, and an unknown filter number is accepted.

import { bool, bytes, enumOf, int64, message, messageDecoder, repeated } from './jsonpb.js';
import type { MessageOf } from './jsonpb.js';

export const FILTER_TYPE_NAMES = ['NOPUT', 'NODELETE'] as const;

const createShape = {
  key: bytes, // 1
  range_end: bytes, // 2
  start_revision: int64, // 3
  progress_notify: bool, // 4
  filters: repeated(enumOf('etcdserverpb.WatchCreateRequest_FilterType', FILTER_TYPE_NAMES)), // 5
  prev_kv: bool, // 6
  watch_id: int64, // 7
  fragment: bool, // 8
};
export type WatchCreateRequestJson = MessageOf<typeof createShape>;

const cancelShape = {
  watch_id: int64, // 1
};
export type WatchCancelRequestJson = MessageOf<typeof cancelShape>;

const watchShape = {
  // oneof request_union
  create_request: messageDecoder(createShape), // 1
  cancel_request: messageDecoder(cancelShape), // 2
  progress_request: messageDecoder({}), // 3
};
export const WatchRequestJson = message(watchShape);
export type WatchRequestJson = MessageOf<typeof watchShape>;
