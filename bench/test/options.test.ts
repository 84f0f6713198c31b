// Command-line parsing: defaults, list forms, bounds and clear errors for bad input.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limits, parseOptions, UsageError } from '../options.js';

test('defaults keep a run short', () => {
  const o = parseOptions(['put'], 2);
  assert.equal(o.scenario, 'put');
  assert.deepEqual(o.clientCounts, [16]);
  assert.equal(o.threads, 2);
  assert.equal(o.durationS, 10);
  assert.equal(o.warmupS, 2);
  assert.equal(o.rounds, 1);
  assert.equal(o.compare, false);
  assert.equal(o.http, 'raw');
  assert.equal(o.record, true);
  assert.deepEqual(o.endpoints, []);
});

test('lists, compare, endpoints, params and the = form', () => {
  const o = parseOptions(['range', '--clients', '1,16,64', '--compare', 'etcd', '--duration=30', '--param', 'a=b=c', '--param', 'x=1', '--threads', '3'], 8);
  assert.deepEqual(o.clientCounts, [1, 16, 64]);
  assert.equal(o.compare, true);
  assert.equal(o.rounds, 2, '--compare defaults to two rounds per target');
  assert.equal(o.durationS, 30);
  assert.equal(o.threads, 3);
  assert.deepEqual(o.params, { a: 'b=c', x: '1' });
  const e = parseOptions(['put', '--endpoints', 'http://127.0.0.1:2379/,http://127.0.0.1:22379', '--clients', '1'], 8);
  assert.deepEqual(e.endpoints, ['http://127.0.0.1:2379', 'http://127.0.0.1:22379']);
  assert.equal(e.threads, 1, 'never more threads than clients');
  assert.equal(parseOptions(['--self-test'], 2).scenario, 'ceiling');
});

test('bad input is a UsageError naming the flag', () => {
  const bad: Array<[string[], RegExp]> = [
    [[], /which scenario/],
    [['put', '--clients', '0'], /--clients/],
    [['put', '--clients', `${limits.clientsMax + 1}`], /--clients/],
    [['put', '--duration', '99999'], /--duration/],
    [['put', '--compare', 'zookeeper'], /--compare/],
    [['put', '--endpoints', 'https://x:1'], /only http/],
    [['put', '--compare', 'etcd', '--endpoints', 'http://x:1'], /drop --endpoints/],
    [['put', '--bogus', '1'], /unknown flag --bogus/],
    [['put', '--read-ratio', '1.5'], /--read-ratio/],
    [['put', '--keys'], /needs a value/],
    [['put', 'range'], /one scenario/],
  ];
  for (const [argv, re] of bad) assert.throws(() => parseOptions(argv, 2), (e: unknown) => e instanceof UsageError && re.test(e.message), argv.join(' '));
});
