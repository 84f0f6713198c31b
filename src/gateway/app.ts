// The gateway: the Fastify app on a member's main thread that serves etcd's v3 JSON API. It reads
// grpc-gateway JSON into the internal request model, calls the member through interfaces
// (`KvService`, a health callback, and later more), and writes the answers back as etcd's gateway
// does. It never listens by itself: the caller does (one app per listen URL).
//
// Layout, one Fastify plugin per HTTP group (STYLE rule 6):
//   kvRoutes, maintenanceRoutes, and any `services` given: under /v3 and /v3beta (etcd 3.4 serves
//                                both prefixes; /v3alpha is gone: 404)
//   probeRoutes: /health, /version
// plus, at the root, what every response shares: the CORS headers, the catch-all body reader
// (etcd accepts a body with any content type, or none), OPTIONS (200, empty), etcd's 404/405
// texts, and the error handler that turns everything into etcd's error shape. Bad input is
// always an EtcdError with InvalidArgument (400); a 500 means a server fault.

import assert from 'node:assert/strict';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { KvService } from '../api/types.js';
import { CORS_HEADERS, notFound, sendError, toEtcdError } from './http.js';
import { GRPC_OVERHEAD_BYTES } from './proto-size.js';
import { kvRoutes } from './routes/kv.js';
import { maintenanceRoutes } from './routes/maintenance.js';
import { DEFAULT_VERSION, PROBE_PATHS, probeRoutes } from './routes/probes.js';
import type { VersionInfo } from './routes/probes.js';

/** etcd's default --max-request-bytes. */
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** API prefixes etcd 3.4's gateway answers on. */
export const API_PREFIXES = ['/v3', '/v3beta'] as const;
/**
 * The HTTP body cap as a multiple of the gRPC receive limit. JSON base64 is 4/3 of the bytes it
 * carries, so legal requests fit with room for whitespace; bodies above it are refused with
 * etcd's too-large error before they are read whole.
 */
const BODY_LIMIT_PER_RECV_BYTE = 4;

/** What a further service plugin (watch, lease, cluster, ...) gets when registered. */
export interface GatewayContext {
  /** The gRPC receive limit (--max-request-bytes + 512 KiB), for `postJson`. */
  maxRecvBytes: number;
}

/** A further service: a plugin registered under every API prefix, next to the KV plugin. */
export type GatewayPlugin = FastifyPluginAsync<GatewayContext>;

export interface GatewayDeps {
  kv: KvService;
  health: () => Promise<boolean>;
  logger?: FastifyBaseLogger;
  /** etcd's --max-request-bytes; the gRPC receive limit adds etcd's 512 KiB to it. */
  maxRequestBytes?: number;
  /** Largest HTTP body read at all (default 4 x the gRPC receive limit). */
  bodyLimitBytes?: number;
  version?: VersionInfo;
  /** More services, each its own plugin (see GatewayPlugin). */
  services?: readonly GatewayPlugin[];
}

export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const maxRecvBytes = (deps.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES) + GRPC_OVERHEAD_BYTES;
  const bodyLimitBytes = deps.bodyLimitBytes ?? BODY_LIMIT_PER_RECV_BYTE * maxRecvBytes;
  assert.ok(Number.isSafeInteger(maxRecvBytes) && maxRecvBytes > GRPC_OVERHEAD_BYTES, 'max request bytes is a positive integer');
  assert.ok(Number.isSafeInteger(bodyLimitBytes) && bodyLimitBytes > 0, 'body limit is a positive integer');

  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: bodyLimitBytes,
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false, // etcd answers HEAD /version with 405
    return503OnClosing: true,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(CORS_HEADERS);
    // etcd reads the body as JSON whatever the Content-Type says, even an empty one; Fastify
    // refuses a body whose media type is empty before any parser runs, so name one.
    const ct = req.headers['content-type'];
    if (ct !== undefined && ct.trim() === '') req.headers['content-type'] = 'application/octet-stream';
    done();
  });
  app.setErrorHandler((err, req, reply) => {
    const bodyBytes = Number(req.headers['content-length'] ?? 0);
    const e = toEtcdError(err, maxRecvBytes, Number.isSafeInteger(bodyBytes) ? bodyBytes : 0);
    if (e.httpStatus >= 500) req.log.error({ err }, 'gateway: request failed');
    return sendError(reply, e);
  });
  app.setNotFoundHandler(notFound(app, PROBE_PATHS));
  app.options('*', async (_req, reply) => reply.code(200).send(''));

  const ctx: GatewayContext = { maxRecvBytes };
  for (const prefix of API_PREFIXES) {
    void app.register(kvRoutes, { prefix, kv: deps.kv, maxRecvBytes });
    void app.register(maintenanceRoutes, { prefix, kv: deps.kv, maxRecvBytes });
    for (const service of deps.services ?? []) void app.register(service, { prefix, ...ctx });
  }
  void app.register(probeRoutes, { health: deps.health, version: deps.version ?? DEFAULT_VERSION });
  return app;
}
