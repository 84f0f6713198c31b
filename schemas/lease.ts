// zod schemas of the lease service's JSON requests (etcdserverpb.Lease: LeaseGrant, LeaseRevoke,
// LeaseKeepAlive, LeaseTimeToLive, LeaseLeases), field for field in proto declaration order (see
// jsonpb.ts for why order matters). etcd's proto spells the fields `TTL`, `ID`, `keys`, so their
// JSON names are those spellings (there is no snake_case form to accept).
//
// Checked against etcd 3.4: `{"ID":"x"}` fails with Go's `invalid character 'x' looking for
// beginning of value` (400 code 3 on unary routes; 500 code 2 on the keep-alive stream, as watch),
// unknown fields are ignored, and ids and TTLs are int64 (numbers or strings).

import { bool, int64, message } from './jsonpb.js';
import type { MessageOf } from './jsonpb.js';

const grantShape = {
  TTL: int64, // 1
  ID: int64, // 2
};
export const LeaseGrantRequestJson = message(grantShape);
export type LeaseGrantRequestJson = MessageOf<typeof grantShape>;

const idShape = {
  ID: int64, // 1
};
/** LeaseRevokeRequest and LeaseKeepAliveRequest: one int64 `ID` (field 1). */
export const LeaseIdRequestJson = message(idShape);
export type LeaseIdRequestJson = MessageOf<typeof idShape>;

const timeToLiveShape = {
  ID: int64, // 1
  keys: bool, // 2
};
export const LeaseTimeToLiveRequestJson = message(timeToLiveShape);
export type LeaseTimeToLiveRequestJson = MessageOf<typeof timeToLiveShape>;

/** LeaseLeasesRequest has no fields. */
export const LeaseLeasesRequestJson = message({});
export type LeaseLeasesRequestJson = MessageOf<Record<string, never>>;
