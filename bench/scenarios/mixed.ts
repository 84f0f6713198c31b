// `mixed`: each request is a linearizable single-key read with probability `--read-ratio`
// (default 0.9) and a put otherwise, over the same K keys (written beforehand by `prepare()`).

import assert from 'node:assert/strict';
import type { ClientContext, ClientScript, Scenario } from '../scenario.js';
import { fillKeySpace, keyTableB64, valueB64, xorshift32 } from '../scenario.js';

/** Integer threshold so that the draw is one integer compare: P(rng < t) = readRatio. */
const rngRange = 2 ** 32;

function mixedClient(ctx: ClientContext): ClientScript {
  const { readRatio } = ctx.options;
  assert.ok(readRatio >= 0 && readRatio <= 1, `read ratio must be within 0..1: ${readRatio}`);
  const keys = keyTableB64(ctx.options.keyCount);
  const value = valueB64(ctx.options.valueBytes, ctx.clientIndex + 1);
  const rng = xorshift32(ctx.clientIndex + 1);
  const readBelow = readRatio * rngRange;
  return {
    next: () => {
      const key = keys[rng() % keys.length];
      if (rng() < readBelow) return { method: 'POST', path: '/v3/kv/range', body: `{"key":"${key}"}` };
      return { method: 'POST', path: '/v3/kv/put', body: `{"key":"${key}","value":"${value}"}` };
    },
  };
}

const scenario: Scenario = {
  name: 'mixed',
  description: 'linearizable reads and puts mixed by --read-ratio over K existing keys',
  prepare: (ctx) => fillKeySpace(ctx),
  createClient: mixedClient,
};
export default scenario;
