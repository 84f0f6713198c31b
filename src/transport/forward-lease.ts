// The bodies of forwarded lease requests and their answers: what a follower's PeerForwarder
// (src/server/peer-forwarder.ts) puts in a ForwardRequest item for the leader, and what comes
// back in the ForwardResponse item of the same id. Pure functions, no I/O.
//
// Encoding: compact JSON with int64/uint64 ids as decimal strings (bigint has no JSON form) and
// keys as base64. A body is bounded (FORWARD_BODY_MAX_BYTES) before it is parsed, and everything
// parsed is checked (zod): id ranges, TTL ranges, error codes, message lengths. A body that does
// not check throws ForwardBodyError; the caller answers or fails that one item, the connection
// stays (the frame around it was well formed).
//
//   request   {"k":"keepAlive","ID":"-7"}   {"k":"timeToLive","ID":"7","keys":true}
//   answer    {"ok":{"header":{"clusterId":"1","memberId":"2","revision":9,"raftTerm":3},"ID":"7","TTL":5}}
//             (a time-to-live adds "grantedTTL":5,"keys":["a2V5"])
//             {"err":{"grpc":9,"message":"etcdserver: not leader"}}
//
// Worked example: a keep-alive request is about 30 bytes, its answer about 110, so a frame of
// 1,000 keep-alives is about 42 KB with the 12-byte item headers.

import assert from 'node:assert/strict';
import { z } from 'zod';
import type { ErrorData, GrpcCode } from '../api/errors.js';
import type {
  LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, ResponseHeader,
} from '../api/types.js';
import { MAX_LEASE_TTL_SEC } from '../lease/codec.js';
import { isInt64 } from '../lease/lease-id.js';
import { FORWARD_BODY_MAX_BYTES } from './codec.js';

/** Longest error message carried back (etcd's are well under 200 characters). */
export const FORWARD_ERROR_MESSAGE_MAX_CHARS = 1024;
const U64_LIMIT = 1n << 64n;
const GRPC_CODE_MAX = 16;

export type ForwardedLeaseRequest =
  | { kind: 'keepAlive'; req: LeaseKeepAliveRequest }
  | { kind: 'timeToLive'; req: LeaseTimeToLiveRequest };
export type ForwardedLeaseKind = ForwardedLeaseRequest['kind'];
export type ForwardedLeaseResponse = LeaseKeepAliveResponse | LeaseTimeToLiveResponse;
export type ForwardedLeaseAnswer = { ok: ForwardedLeaseResponse } | { err: ErrorData };

/** A forwarded body that does not decode or check. */
export class ForwardBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForwardBodyError';
  }
}

// ---- schemas ----

const int64String = z.string().regex(/^-?\d{1,19}$/).transform((s) => BigInt(s)).refine(isInt64, 'not an int64');
const u64String = z.string().regex(/^\d{1,20}$/).transform((s) => BigInt(s)).refine((v) => v < U64_LIMIT, 'not a uint64');
const safeCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const ttlSec = z.number().int().min(-1).max(MAX_LEASE_TTL_SEC);
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

const requestSchema = z.discriminatedUnion('k', [
  z.object({ k: z.literal('keepAlive'), ID: int64String }).strict(),
  z.object({ k: z.literal('timeToLive'), ID: int64String, keys: z.boolean().optional() }).strict(),
]);
const headerSchema = z.object({ clusterId: u64String, memberId: u64String, revision: safeCount, raftTerm: safeCount }).strict();
const keepAliveSchema = z.object({ header: headerSchema, ID: int64String, TTL: ttlSec }).strict();
const timeToLiveSchema = z.object({
  header: headerSchema, ID: int64String, TTL: ttlSec, grantedTTL: ttlSec, keys: z.array(base64),
}).strict();
const errSchema = z.object({
  grpc: z.number().int().min(0).max(GRPC_CODE_MAX), message: z.string().max(FORWARD_ERROR_MESSAGE_MAX_CHARS),
}).strict();
const answerSchemas = {
  keepAlive: z.union([z.object({ ok: keepAliveSchema }).strict(), z.object({ err: errSchema }).strict()]),
  timeToLive: z.union([z.object({ ok: timeToLiveSchema }).strict(), z.object({ err: errSchema }).strict()]),
} as const;

// ---- encoding ----

function toBody(value: unknown): Uint8Array {
  const body = Buffer.from(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), 'utf8');
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

function parseBody(body: Uint8Array, what: string): unknown {
  if (body.byteLength > FORWARD_BODY_MAX_BYTES) throw new ForwardBodyError(`${what}: ${body.byteLength}-byte body exceeds the bound`);
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as unknown;
  } catch (err) {
    throw new ForwardBodyError(`${what}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ForwardBodyError(`${what}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

export function encodeLeaseRequestBody(r: ForwardedLeaseRequest): Uint8Array {
  assert.ok(isInt64(r.req.ID), `lease id ${r.req.ID} is not an int64`);
  if (r.kind === 'keepAlive') return toBody({ k: 'keepAlive', ID: r.req.ID });
  return toBody(r.req.keys === true ? { k: 'timeToLive', ID: r.req.ID, keys: true } : { k: 'timeToLive', ID: r.req.ID });
}

export function decodeLeaseRequestBody(body: Uint8Array): ForwardedLeaseRequest {
  const j = check(requestSchema, parseBody(body, 'forwarded lease request'), 'forwarded lease request');
  if (j.k === 'keepAlive') return { kind: 'keepAlive', req: { ID: j.ID } };
  return { kind: 'timeToLive', req: j.keys === true ? { ID: j.ID, keys: true } : { ID: j.ID } };
}

/** The answer's body; undefined when it would exceed FORWARD_BODY_MAX_BYTES (the caller answers an error). */
export function encodeLeaseAnswerBody(kind: ForwardedLeaseKind, a: ForwardedLeaseAnswer): Uint8Array | undefined {
  let value: unknown;
  if ('err' in a) {
    value = { err: { grpc: a.err.grpc, message: a.err.message.slice(0, FORWARD_ERROR_MESSAGE_MAX_CHARS) } };
  } else if (kind === 'keepAlive') {
    const r = a.ok as LeaseKeepAliveResponse;
    value = { ok: { header: headerJson(r.header), ID: r.ID, TTL: r.TTL } };
  } else {
    const r = a.ok as LeaseTimeToLiveResponse;
    const keys = r.keys.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('base64'));
    value = { ok: { header: headerJson(r.header), ID: r.ID, TTL: r.TTL, grantedTTL: r.grantedTTL, keys } };
  }
  const body = toBody(value);
  return body.byteLength > FORWARD_BODY_MAX_BYTES ? undefined : body;
}

function headerJson(h: ResponseHeader): object {
  return { clusterId: h.clusterId, memberId: h.memberId, revision: h.revision, raftTerm: h.raftTerm };
}

/** Decodes an answer to a request of `kind` (the requester knows which kind it asked). */
export function decodeLeaseAnswerBody(kind: ForwardedLeaseKind, body: Uint8Array): ForwardedLeaseAnswer {
  const what = `forwarded ${kind} answer`;
  const j = check(answerSchemas[kind] as z.ZodType<unknown>, parseBody(body, what), what) as
    { ok: z.infer<typeof timeToLiveSchema> | z.infer<typeof keepAliveSchema> } | { err: { grpc: number; message: string } };
  if ('err' in j) return { err: { grpc: j.err.grpc as GrpcCode, message: j.err.message } };
  if (kind === 'keepAlive') {
    const k = j.ok as z.infer<typeof keepAliveSchema>;
    return { ok: { header: k.header, ID: k.ID, TTL: k.TTL } satisfies LeaseKeepAliveResponse };
  }
  const t = j.ok as z.infer<typeof timeToLiveSchema>;
  const keys = t.keys.map((k) => new Uint8Array(Buffer.from(k, 'base64')));
  return { ok: { header: t.header, ID: t.ID, TTL: t.TTL, grantedTTL: t.grantedTTL, keys } satisfies LeaseTimeToLiveResponse };
}
