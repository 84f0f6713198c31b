// The KV service (etcdserverpb.KV) as JSON routes: POST {prefix}/kv/range|put|deleterange|txn|
// compaction, each one gRPC method of the member's KvService. A Fastify plugin of its own
// (registered once per API prefix, /v3 and /v3beta), knowing nothing of the other services.

import type { FastifyPluginAsync } from 'fastify';
import type { KvService } from '../../api/types.js';
import {
  CompactionRequestJson, DeleteRangeRequestJson, PutRequestJson, RangeRequestJson, TxnRequestJson,
} from '../../../schemas/kv.js';
import {
  compactionRequestFromJson, compactionResponseJson, deleteRangeRequestFromJson, deleteRangeResponseJson,
  putRequestFromJson, putResponseJson, rangeRequestFromJson, rangeResponseJson, txnRequestFromJson,
  txnResponseJson,
} from '../codec.js';
import { postJson } from '../http.js';
import {
  compactionRequestSize, deleteRangeRequestSize, putRequestSize, rangeRequestSize, txnRequestSize,
} from '../proto-size.js';

export interface KvRoutesOptions {
  kv: KvService;
  /** gRPC receive limit: --max-request-bytes plus etcd's gRPC overhead allowance. */
  maxRecvBytes: number;
}

export const kvRoutes: FastifyPluginAsync<KvRoutesOptions> = async (app, { kv, maxRecvBytes }) => {
  postJson(app, '/kv/range', {
    schema: RangeRequestJson, sizeOf: rangeRequestSize, fromJson: rangeRequestFromJson,
    call: (req) => kv.range(req), toJson: rangeResponseJson,
  }, maxRecvBytes);
  postJson(app, '/kv/put', {
    schema: PutRequestJson, sizeOf: putRequestSize, fromJson: putRequestFromJson,
    call: (req) => kv.put(req), toJson: putResponseJson,
  }, maxRecvBytes);
  postJson(app, '/kv/deleterange', {
    schema: DeleteRangeRequestJson, sizeOf: deleteRangeRequestSize, fromJson: deleteRangeRequestFromJson,
    call: (req) => kv.deleteRange(req), toJson: deleteRangeResponseJson,
  }, maxRecvBytes);
  postJson(app, '/kv/txn', {
    schema: TxnRequestJson, sizeOf: txnRequestSize, fromJson: txnRequestFromJson,
    call: (req) => kv.txn(req), toJson: txnResponseJson,
  }, maxRecvBytes);
  postJson(app, '/kv/compaction', {
    schema: CompactionRequestJson, sizeOf: compactionRequestSize, fromJson: compactionRequestFromJson,
    call: (req) => kv.compact(req), toJson: compactionResponseJson,
  }, maxRecvBytes);
};
