// The Maintenance service as JSON routes: Status, Hash and HashKV (POST {prefix}/maintenance/...);
// alarm, defragment, snapshot and move-leader join this plugin when the member has them.
//
// Paths: etcd 3.4's gateway maps BOTH Hash and HashKV to /v3/maintenance/hash (a proto annotation
// clash; Hash wins and /v3/maintenance/hashkv is a 404 there); etcd 3.5 serves HashKV at
// /v3/maintenance/hashkv. We serve Hash at /hash as 3.4 does and HashKV at /hashkv as 3.5 does.
// Answers (checked with curl and etcdctl against etcd 3.4.23): `hash` is a uint32, so a JSON
// number; `compact_revision` an int64 string, "-1" before the first compaction.

import assert from 'node:assert/strict';
import type { FastifyPluginAsync } from 'fastify';
import { EtcdError, GrpcCode } from '../../api/errors.js';
import type { HashKVRequest, HashKVResponse, HashResponse, KvService } from '../../api/types.js';
import { HashKVRequestJson, HashRequestJson, StatusRequestJson } from '../../../schemas/maintenance.js';
import { headerJson, revisionOf, statusResponseJson } from '../codec.js';
import { postJson } from '../http.js';

export interface MaintenanceRoutesOptions {
  /** hash and hashKV may be absent (a member without them): those routes answer Unimplemented. */
  kv: Pick<KvService, 'status' | 'hash' | 'hashKV'>;
  maxRecvBytes: number;
}

/** The largest value a uint32 JSON field can carry. */
const UINT32_MAX = 0xffff_ffff;

export function hashResponseJson(r: HashResponse): string {
  assert32(r.hash);
  return `{"header":${headerJson(r.header)}${r.hash === 0 ? '' : `,"hash":${r.hash}`}}`;
}

export function hashKVResponseJson(r: HashKVResponse): string {
  assert32(r.hash);
  assert.ok(Number.isSafeInteger(r.compactRevision), `compact revision ${r.compactRevision} is not an integer`);
  return `{"header":${headerJson(r.header)}${r.hash === 0 ? '' : `,"hash":${r.hash}`}` +
    `${r.compactRevision === 0 ? '' : `,"compact_revision":"${r.compactRevision}"`}}`;
}

function assert32(hash: number): void {
  assert.ok(Number.isInteger(hash) && hash >= 0 && hash <= UINT32_MAX, `hash ${hash} is not a uint32`);
}

export function hashKVRequestOf(json: HashKVRequestJson): HashKVRequest {
  return json.revision === undefined || json.revision === 0n ? {} : { revision: revisionOf(json.revision) };
}

function unimplemented(method: string): EtcdError {
  return new EtcdError(GrpcCode.Unimplemented, `unknown method ${method} for service etcdserverpb.Maintenance`);
}

export const maintenanceRoutes: FastifyPluginAsync<MaintenanceRoutesOptions> = async (app, { kv, maxRecvBytes }) => {
  postJson(app, '/maintenance/status', {
    schema: StatusRequestJson, sizeOf: () => 0, fromJson: () => undefined,
    call: () => kv.status(), toJson: statusResponseJson,
  }, maxRecvBytes);
  postJson(app, '/maintenance/hash', {
    schema: HashRequestJson, sizeOf: () => 0, fromJson: () => undefined,
    call: () => (kv.hash === undefined ? Promise.reject(unimplemented('Hash')) : kv.hash()),
    toJson: hashResponseJson,
  }, maxRecvBytes);
  postJson(app, '/maintenance/hashkv', {
    // An int64 field costs at most 11 protobuf bytes: never near the receive limit.
    schema: HashKVRequestJson, sizeOf: () => 11, fromJson: hashKVRequestOf,
    call: (req) => (kv.hashKV === undefined ? Promise.reject(unimplemented('HashKV')) : kv.hashKV(req)),
    toJson: hashKVResponseJson,
  }, maxRecvBytes);
};
