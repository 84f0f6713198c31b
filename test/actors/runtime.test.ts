import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Coalescer, spawnActor } from '../../src/actors/runtime.js';

const ENTRY = new URL('./echo-actor.ts', import.meta.url);

test('an actor runs TypeScript on its own thread and answers in order', async () => {
  const fatal: string[] = [];
  const a = spawnActor({ name: 'echo', entry: ENTRY, init: { greeting: 'hi' }, onFatal: (n, r) => fatal.push(`${n}: ${r}`) });
  try {
    const got: unknown[] = [];
    a.worker.on('message', (m) => got.push(m));
    for (let i = 0; i < 3; i++) a.worker.postMessage({ type: 'echo', text: String(i) });
    while (got.length < 3) await once(a.worker, 'message');
    assert.deepEqual(got, [0, 1, 2].map((i) => ({ type: 'echo', text: `hi ${i}`, n: i + 1 })));
  } finally {
    await a.stop();
  }
  assert.deepEqual(fatal, [], 'a stop() is not a crash');
});

test('an actor that throws is reported fatal once, with its name and the reason', async () => {
  const fatal: string[] = [];
  let done!: () => void;
  const reported = new Promise<void>((r) => { done = r; });
  const a = spawnActor({ name: 'echo', entry: ENTRY, init: { greeting: 'x' }, onFatal: (n, r) => { fatal.push(`${n}: ${r}`); done(); } });
  a.worker.postMessage({ type: 'crash' });
  await reported;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(fatal.length, 1);
  assert.match(fatal[0]!, /^echo: .*invariant broken on purpose/s);
  await a.stop();
});

test('an actor that exits by itself is reported fatal', async () => {
  let reason = '';
  const reported = new Promise<void>((r) => {
    const a = spawnActor({ name: 'echo', entry: ENTRY, init: { greeting: 'x' }, onFatal: (_n, why) => { reason = why; r(); } });
    a.worker.postMessage({ type: 'exit' });
  });
  await reported;
  assert.match(reason, /exited unexpectedly with code 3/);
});

test('Coalescer runs once per macrotask however often it is scheduled', async () => {
  let runs = 0;
  const c = new Coalescer(() => { runs += 1; });
  for (let i = 0; i < 100; i++) c.schedule();
  await new Promise((r) => setImmediate(r));
  assert.equal(runs, 1);
  c.schedule();
  await new Promise((r) => setImmediate(r));
  assert.equal(runs, 2);
});
