// zod schemas of the Cluster service's JSON requests (etcd 3.4's etcdserverpb.Member*Request) and
// MoveLeaderRequest, which the Maintenance service has but whose route lives with the cluster
// routes. Field names are the proto names, which are already lowerCamel: `ID`, `peerURLs`,
// `isLearner`, `targetID`.

import { z } from 'zod';
import { EtcdError } from '../src/api/errors.js';
import { bool, message, repeated, uint64 } from './jsonpb.js';
import type { Decoder } from './jsonpb.js';

/** A proto3 string field: a JSON string, anything else is Go's unmarshal error. */
const str: Decoder<string> = (v) => {
  if (typeof v === 'string') return v;
  const kind = Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v === 'boolean' ? 'bool' : 'number';
  throw EtcdError.invalidArgument(`json: cannot unmarshal ${kind} into Go value of type string`);
};

export const MemberListRequestJson = message({});
export type MemberListRequestJson = z.output<typeof MemberListRequestJson>;

export const MemberAddRequestJson = message({
  peerURLs: repeated(str), // 1
  isLearner: bool, // 2
});
export type MemberAddRequestJson = z.output<typeof MemberAddRequestJson>;

export const MemberIdRequestJson = message({
  ID: uint64, // 1
});
export type MemberIdRequestJson = z.output<typeof MemberIdRequestJson>;

export const MemberUpdateRequestJson = message({
  ID: uint64, // 1
  peerURLs: repeated(str), // 2
});
export type MemberUpdateRequestJson = z.output<typeof MemberUpdateRequestJson>;

export const MoveLeaderRequestJson = message({
  targetID: uint64, // 1
});
export type MoveLeaderRequestJson = z.output<typeof MoveLeaderRequestJson>;
