// etcd's plain Go handlers next to the gRPC gateway: GET /health and GET /version. Their bodies,
// types and statuses are etcd 3.4's (checked with curl): /health answers text/plain
// `{"health":"true"}` (200), or `{"health":"false"}\n` with 503 through http.Error when the
// member is not healthy; /version answers application/json with exactly etcd's two fields, so
// tools that parse them keep working. Other methods on these paths get 405 with `Allow: GET`
// (see http.ts).

import type { FastifyPluginAsync } from 'fastify';
import { TEXT_PLAIN, sendJson, sendText } from '../http.js';

/** The versions /version reports: the etcd API level tetcd implements. */
export interface VersionInfo {
  etcdserver: string;
  etcdcluster: string;
}

export const DEFAULT_VERSION: VersionInfo = { etcdserver: '3.4.0', etcdcluster: '3.4.0' };

/** The paths served here, for the 405 answer's Allow header. */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/health', '/version']);

export interface ProbeRoutesOptions {
  /** True when the member can serve a linearizable request now; a throw counts as false. */
  health: () => Promise<boolean>;
  version: VersionInfo;
}

export const probeRoutes: FastifyPluginAsync<ProbeRoutesOptions> = async (app, { health, version }) => {
  const versionBody = JSON.stringify({ etcdserver: version.etcdserver, etcdcluster: version.etcdcluster });
  app.get('/version', async (_req, reply) => sendJson(reply, versionBody));
  app.get('/health', async (_req, reply) => {
    let ok = false;
    try {
      ok = await health();
    } catch {
      ok = false;
    }
    if (!ok) return sendText(reply, 503, '{"health":"false"}');
    return reply.header('content-type', TEXT_PLAIN).send('{"health":"true"}');
  });
};
