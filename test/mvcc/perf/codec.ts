// Measures the raft request codec against v8.serialize on a put with a 16-byte key and a
// 128-byte value (not a test: run with `node --import tsx test/mvcc/perf/codec.ts`).
import v8 from 'node:v8';
import { decodeRaftRequest, encodeRaftRequest, type RaftRequest } from '../../../src/mvcc/request-codec.js';

const req: RaftRequest = { id: 0x1234567890abcdefn, put: { key: new Uint8Array(16).fill(97), value: new Uint8Array(128).fill(98) } };
const rounds = 200_000;

function time(name: string, f: () => void): number {
  for (let i = 0; i < 20_000; i++) f();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) f();
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / rounds;
  return us;
}

const runs: Record<string, number[]> = { binary: [], v8: [] };
for (let run = 0; run < 5; run++) {
  runs.binary!.push(time('binary', () => { decodeRaftRequest(encodeRaftRequest(req)); }));
  runs.v8!.push(time('v8', () => { v8.deserialize(v8.serialize(req)); }));
}
const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`binary: ${median(runs.binary!).toFixed(3)} us/pair, ${encodeRaftRequest(req).length} bytes`);
console.log(`v8:     ${median(runs.v8!).toFixed(3)} us/pair, ${v8.serialize(req).length} bytes`);
