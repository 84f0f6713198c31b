// tetcd's flag parser side by side with real etcd 3.4 (/usr/bin/etcd): the same bad command
// lines (test/cli/error-cases.ts, plus environment cases) must give the same exit code and the
// same message. Skipped when etcd is not installed.
//
// etcd is always started with a temp --data-dir and loopback listeners on port 0 placed BEFORE
// the case's flags (the last occurrence of a flag wins), so a case that unexpectedly succeeds
// binds nothing shared; spawnSync's timeout kills it. Every case is expected to fail fast.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, parseMemberConfig } from '../../src/cli/flags.js';
import { ERRORS } from './error-cases.js';

const ETCD = '/usr/bin/etcd';
/** An etcd that has not failed by then has started: the case is wrong. */
const ETCD_RUN_TIMEOUT_MS = 20_000;
const BASE_PEER = ['--listen-peer-urls', 'http://127.0.0.1:0', '--initial-advertise-peer-urls', 'http://127.0.0.1:2', '--initial-cluster', 'default=http://127.0.0.1:2'];
const BASE_CLIENT = ['--listen-client-urls', 'http://127.0.0.1:0', '--advertise-client-urls', 'http://127.0.0.1:1'];

function baseFor(argv: readonly string[]): string[] {
  const mentions = (flag: string) => argv.some((a) => a.replace(/^--?/, '').split('=')[0] === flag);
  return [...(mentions('listen-client-urls') ? [] : BASE_CLIENT), ...BASE_PEER];
}

function runEtcd(argv: string[], env: NodeJS.ProcessEnv): { status: number | null; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tetcd-flags-compat-'));
  try {
    const r = spawnSync(ETCD, ['--data-dir', dir, ...argv], {
      encoding: 'utf8', timeout: ETCD_RUN_TIMEOUT_MS, killSignal: 'SIGKILL', env: { PATH: process.env.PATH ?? '', ...env },
    });
    return { status: r.status, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function runTetcd(argv: string[], env: NodeJS.ProcessEnv): ConfigError {
  try {
    parseMemberConfig(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err;
  }
  assert.fail('tetcd accepted it');
}

const ENV_CASES: [string[], NodeJS.ProcessEnv][] = [
  [['--name', 'bar'], { ETCD_NAME: 'foo' }],
  [[], { ETCD_HEARTBEAT_INTERVAL: 'abc' }],
  [[], { ETCD_ENABLE_PPROF: 'maybe' }],
  [[], { ETCD_VERSION: '3.4.23' }],
];

describe('tetcd and etcd 3.4 refuse the same command lines the same way', { skip: !fs.existsSync(ETCD) && 'no /usr/bin/etcd' }, () => {
  const cases: [string[], NodeJS.ProcessEnv][] = [...ERRORS.map(([argv]): [string[], NodeJS.ProcessEnv] => [argv, {}]), ...ENV_CASES];
  for (const [caseArgv, env] of cases) {
    it(`${caseArgv.join(' ')} ${JSON.stringify(env)}`, () => {
      const argv = [...baseFor(caseArgv), ...caseArgv];
      const ours = runTetcd(argv, env);
      const theirs = runEtcd(argv, env);
      assert.equal(ours.exitCode, theirs.status, `etcd said: ${theirs.stderr.slice(0, 2000)}`);
      const lines = theirs.stderr.split('\n');
      for (const line of ours.message.split('\n')) {
        if (line.startsWith('Usage:')) break; // tetcd's usage text is its own
        const expected = line.replace("See 'tetcd --help'.", "See 'etcd --help'.");
        assert.ok(lines.some((l) => l === expected || l.endsWith(` etcdmain: ${expected}`) || l.endsWith(` pkg/flags: ${expected}`)),
          `etcd's stderr lacks ${JSON.stringify(expected)}:\n${theirs.stderr.slice(0, 2000)}`);
      }
    });
  }
});
