// `watch`: watch fan-out. W watchers (`--watchers`) on the prefix `bench/watch/`, over HTTP
// streams (`POST /v3/watch`, one watcher each) or WebSocket (`--transport ws`, several watches per
// socket, as etcd 3.4's gateway allows), and one writer putting a new key under the prefix `--rate`
// times a second. The harness drives it through `fanout-runner.ts` and `fanout-worker.ts`; the
// figures are events delivered per second, put acknowledgement -> event latency, missed and
// duplicate events, and the server's memory per watcher.
//
// As a request scenario (`createClient`), it is the writer alone: puts of fresh keys in sequence.

import { watchKeyOfSeq } from '../fanout.js';
import type { ClientContext, ClientScript, Scenario } from '../scenario.js';
import { b64, valueB64 } from '../scenario.js';

export function writerClient(ctx: ClientContext): ClientScript {
  const value = valueB64(ctx.options.valueBytes, ctx.clientIndex + 1);
  let seq = ctx.clientIndex;
  return {
    next: () => {
      const key = b64(watchKeyOfSeq(seq % 1e8));
      seq += ctx.clientCount;
      return { method: 'POST', path: '/v3/kv/put', body: `{"key":"${key}","value":"${value}"}` };
    },
  };
}

const scenario: Scenario = {
  name: 'watch',
  description: 'watch fan-out: W watchers on one prefix, one writer at a steady rate',
  streams: 'watch-fanout',
  createClient: writerClient,
};
export default scenario;
