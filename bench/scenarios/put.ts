// `put`: every request writes one key drawn uniformly from a key space of K keys (`--keys`),
// with a value of V bytes (`--value-size`). Each put is a raft proposal and an fsync on the
// server, so this measures the write path end to end.

import type { ClientContext, ClientScript, Scenario } from '../scenario.js';
import { keyTableB64, valueB64, xorshift32 } from '../scenario.js';

export function putClient(ctx: ClientContext): ClientScript {
  const keys = keyTableB64(ctx.options.keyCount);
  const value = valueB64(ctx.options.valueBytes, ctx.clientIndex + 1);
  const rng = xorshift32(ctx.clientIndex + 1);
  return {
    next: () => ({
      method: 'POST',
      path: '/v3/kv/put',
      body: `{"key":"${keys[rng() % keys.length]}","value":"${value}"}`,
    }),
  };
}

const scenario: Scenario = {
  name: 'put',
  description: 'single-key puts over a key space of K keys, values of V bytes',
  createClient: putClient,
};
export default scenario;
