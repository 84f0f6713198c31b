// Records what a real etcd answers for every scenario in ../scenarios.ts into
// ../fixtures/etcd-3.4-transcripts.json, and prints where the store answers differently.
// Not a test (it needs /usr/bin/etcd): `node --import tsx test/mvcc/perf/record-etcd.ts`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { MemoryBackend } from '../../../src/mvcc/memory-backend.js';
import { MvccStore } from '../../../src/mvcc/store.js';
import { deleteReqJson, putReqJson, rangeReqJson, txnReqJson } from '../etcd-json.js';
import { answer, type Answer } from '../replay.js';
import { scenarios, type Step } from '../scenarios.js';

const out = path.join(import.meta.dirname, '..', 'fixtures', 'etcd-3.4-transcripts.json');

function request(step: Step): [string, unknown] {
  if ('put' in step) return ['put', putReqJson(step.put)];
  if ('range' in step) return ['range', rangeReqJson(step.range)];
  if ('del' in step) return ['deleterange', deleteReqJson(step.del)];
  if ('txn' in step) return ['txn', txnReqJson(step.txn)];
  return ['compaction', { revision: String(step.compact.revision), physical: step.compact.physical ?? false }];
}

function strip(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(strip);
  if (x === null || typeof x !== 'object') return x;
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) {
    if (k === 'cluster_id' || k === 'member_id' || k === 'raft_term') continue;
    o[k] = strip(v);
  }
  return o;
}

async function withEtcd<T>(f: (url: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvcc-etcd-'));
  const port = 42000 + Math.floor(Math.random() * 3000) * 2;
  const peer = `http://127.0.0.1:${port + 1}`;
  const proc = spawn('etcd', ['--data-dir', path.join(dir, 'data'), '--listen-client-urls', `http://127.0.0.1:${port}`,
    '--advertise-client-urls', `http://127.0.0.1:${port}`, '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer, '--initial-cluster', `default=${peer}`], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try { if ((await fetch(`${url}/health`)).ok) break; } catch { /* not up yet */ }
      if (i > 100) throw new Error('etcd did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    return await f(url);
  } finally {
    proc.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const transcripts: Record<string, Answer[]> = {};
for (const s of scenarios) {
  transcripts[s.name] = await withEtcd(async (url) => {
    const answers: Answer[] = [];
    for (const step of s.steps) {
      const [route, body] = request(step);
      const res = await fetch(`${url}/v3/kv/${route}`, { method: 'POST', body: JSON.stringify(body) });
      answers.push(strip(await res.json()) as Answer);
    }
    return answers;
  });
  const store = await MvccStore.open(new MemoryBackend());
  for (const [i, step] of s.steps.entries()) {
    const ours = await answer(store, step);
    const theirs = transcripts[s.name]![i];
    if (!isDeepStrictEqual(ours, theirs)) {
      console.log(`DIFF ${s.name} step ${i}: ${JSON.stringify(request(step)).slice(0, 300)}\n  etcd: ${JSON.stringify(theirs).slice(0, 600)}\n  ours: ${JSON.stringify(ours).slice(0, 600)}`);
    }
  }
}
fs.writeFileSync(out, JSON.stringify(transcripts, null, 1) + '\n');
console.log(`wrote ${out}`);
