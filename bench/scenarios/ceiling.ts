// `ceiling` (`--self-test`): the load generator against a trivial Fastify server (see
// `bench/ceiling-server.ts`) that answers every POST with a fixed JSON body shaped like an etcd
// range answer. No storage and no consensus behind it, so the figures are the most this machine
// and this generator can push through HTTP/JSON: the generator's ceiling.

import type { ClientContext, ClientScript, Scenario } from '../scenario.js';
import { keyTableB64, xorshift32 } from '../scenario.js';

function ceilingClient(ctx: ClientContext): ClientScript {
  const keys = keyTableB64(ctx.options.keyCount);
  const rng = xorshift32(ctx.clientIndex + 1);
  return { next: () => ({ method: 'POST', path: '/v3/kv/range', body: `{"key":"${keys[rng() % keys.length]}"}` }) };
}

const scenario: Scenario = {
  name: 'ceiling',
  description: "the generator's own ceiling: a trivial Fastify endpoint answering fixed JSON",
  createClient: ceilingClient,
};
export default scenario;
