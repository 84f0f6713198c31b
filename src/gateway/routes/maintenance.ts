// The Maintenance service as JSON routes. Only Status for now (POST {prefix}/maintenance/status);
// alarm, defragment, hash, snapshot and move-leader join this plugin when the member has them.

import type { FastifyPluginAsync } from 'fastify';
import type { KvService } from '../../api/types.js';
import { StatusRequestJson } from '../../../schemas/maintenance.js';
import { statusResponseJson } from '../codec.js';
import { postJson } from '../http.js';

export interface MaintenanceRoutesOptions {
  kv: Pick<KvService, 'status'>;
  maxRecvBytes: number;
}

export const maintenanceRoutes: FastifyPluginAsync<MaintenanceRoutesOptions> = async (app, { kv, maxRecvBytes }) => {
  postJson(app, '/maintenance/status', {
    schema: StatusRequestJson, sizeOf: () => 0, fromJson: () => undefined,
    call: () => kv.status(), toJson: statusResponseJson,
  }, maxRecvBytes);
};
