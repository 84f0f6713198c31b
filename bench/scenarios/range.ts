// `range`: linearizable single-key reads of keys drawn uniformly from K keys that `prepare()`
// wrote beforehand (so every read finds its key). A linearizable read costs the server a
// ReadIndex round (etcd: a heartbeat quorum check, batched across concurrent reads).

import type { ClientContext, ClientScript, Scenario } from '../scenario.js';
import { fillKeySpace, keyTableB64, xorshift32 } from '../scenario.js';

/** A client reading single keys; `serializable` selects etcd's local (non-quorum) read. */
export function rangeClient(ctx: ClientContext, serializable: boolean): ClientScript {
  const keys = keyTableB64(ctx.options.keyCount);
  const rng = xorshift32(ctx.clientIndex + 1);
  const tail = serializable ? ',"serializable":true}' : '}';
  return {
    next: () => ({ method: 'POST', path: '/v3/kv/range', body: `{"key":"${keys[rng() % keys.length]}"${tail}` }),
  };
}

const scenario: Scenario = {
  name: 'range',
  description: 'linearizable single-key reads over K existing keys',
  prepare: (ctx) => fillKeySpace(ctx),
  createClient: (ctx) => rangeClient(ctx, false),
};
export default scenario;
