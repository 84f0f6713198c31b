// The HTTP edge shared by every route plugin: etcd's error bodies and statuses, its plain-text
// 404/405 answers, the CORS headers it puts on every response, and the JSON route helper that
// runs decode -> validate -> size check -> convert -> call -> encode for one gRPC method.
//
// Error shapes (checked against etcd 3.4.23):
// - a gRPC error: `{"error":m,"message":m,"code":c}`, application/json, HTTP status from the code
//   (grpc-gateway's table, `httpStatusOf`);
// - an unknown path under /v3/ or /v3beta/: 404 text/plain `Not Found\n` (grpc-gateway's mux);
//   any other unknown path: 404 `404 page not found\n` (Go's ServeMux);
// - a known path with another method: 405 `Method Not Allowed\n` (with `Allow: GET` for the
//   plain Go handlers /health and /version).

import assert from 'node:assert/strict';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { EtcdError, GrpcCode, httpStatusOf, isErrorData } from '../api/errors.js';
import { parseMessage } from '../../schemas/jsonpb.js';
import { decodeBody } from './gojson.js';

/** etcd's (Go's http.Error) text/plain content type. */
export const TEXT_PLAIN = 'text/plain; charset=utf-8';
export const APPLICATION_JSON = 'application/json';

/** etcd serves these on every response (its default --cors '*'). */
export const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'access-control-allow-headers': 'accept, content-type, authorization',
} as const;

/**
 * Sends a ready JSON text under exactly `application/json`, as etcd does (Fastify appends
 * `; charset=utf-8` to a JSON type unless a serializer is set; this one does nothing).
 */
export function sendJson(reply: FastifyReply, text: string): FastifyReply {
  return reply.header('content-type', APPLICATION_JSON).serializer(passThrough).send(text);
}

const passThrough = (payload: unknown): string => payload as string;

/** grpc-gateway's error body. */
export function errorBody(message: string, code: number): string {
  return `{"error":${JSON.stringify(message)},"message":${JSON.stringify(message)},"code":${code}}`;
}

/**
 * Any thrown value as an etcd error. Our own decoders only throw EtcdError, so anything else
 * is a server-side fault: gRPC Unknown (500), as grpc-gateway maps a non-status error.
 */
export function toEtcdError(err: unknown, maxRecvBytes: number, bodyBytes: number): EtcdError {
  if (err instanceof EtcdError) return err;
  if (isErrorData(err)) return EtcdError.from(err);
  const fe = err as Partial<FastifyError> & { message?: string };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    // The HTTP body cap is far above the gRPC limit for any sane encoding, so etcd would refuse
    // this too; the size we can report is the body's (its protobuf form was never built).
    return tooLarge(bodyBytes, maxRecvBytes);
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return EtcdError.invalidArgument(fe.message ?? 'bad request');
  }
  return new EtcdError(GrpcCode.Unknown, fe.message ?? String(err));
}

/** etcd's gRPC server answer to a message over its receive limit. */
export function tooLarge(sizeBytes: number, maxRecvBytes: number): EtcdError {
  return new EtcdError(GrpcCode.ResourceExhausted, `grpc: received message larger than max (${sizeBytes} vs. ${maxRecvBytes})`);
}

export function sendError(reply: FastifyReply, err: EtcdError): FastifyReply {
  const status = httpStatusOf(err.grpc);
  assert.ok(status >= 400, 'an error has an error status');
  return sendJson(reply.code(status), errorBody(err.message, err.grpc));
}

/** Go's http.Error: text/plain, nosniff, the text plus a newline. */
export function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).header('content-type', TEXT_PLAIN).header('x-content-type-options', 'nosniff').send(`${text}\n`);
}

/** The not-found handler: 405 for a known path with another method, else etcd's two 404s. */
export function notFound(app: FastifyInstance, goHandlerPaths: ReadonlySet<string>) {
  return (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    const known = ['GET', 'POST'].some((method) => app.hasRoute({ url: path, method: method as 'GET' }));
    if (known) {
      if (goHandlerPaths.has(path)) reply.header('allow', 'GET');
      return sendText(reply, 405, 'Method Not Allowed');
    }
    if (path.startsWith('/v3/') || path.startsWith('/v3beta/')) return sendText(reply, 404, 'Not Found');
    return sendText(reply, 404, '404 page not found');
  };
}

/** One unary gRPC method exposed as a JSON POST route. */
export interface JsonMethod<J, Req, Res> {
  schema: z.ZodType<J, unknown>;
  /** Protobuf size of the parsed request (for the gRPC receive limit). */
  sizeOf: (json: J) => number;
  fromJson: (json: J) => Req;
  call: (req: Req) => Promise<Res>;
  toJson: (res: Res) => string;
}

/**
 * Registers `POST path` for a method. The body (any content type, possibly absent) is read the
 * way etcd's gateway reads it; errors go to the app's error handler.
 */
export function postJson<J, Req, Res>(app: FastifyInstance, path: string, m: JsonMethod<J, Req, Res>, maxRecvBytes: number): void {
  assert.ok(maxRecvBytes > 0);
  app.post(path, async (req, reply) => {
    const body = typeof req.body === 'string' ? decodeBody(req.body) : undefined;
    const json = parseMessage(m.schema, body);
    const size = m.sizeOf(json);
    if (size > maxRecvBytes) throw tooLarge(size, maxRecvBytes);
    const res = await m.call(m.fromJson(json));
    return sendJson(reply, m.toJson(res));
  });
}
