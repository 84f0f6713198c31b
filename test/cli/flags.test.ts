// Tests of the etcd-compatible command line (src/cli/flags.ts): every flag in every Go form and as
// an ETCD_* variable, the defaults, each validation error, the help and version texts, and the
// probe command's exit codes.
//
// Expected error texts were taken from real etcd 3.4.23 (/usr/bin/etcd), run as
//   etcd <args> --data-dir $(mktemp -d) --listen-client-urls http://127.0.0.1:0 \
//     --advertise-client-urls http://127.0.0.1:1 --listen-peer-urls http://127.0.0.1:0 ...
// tetcd says 'tetcd --help' where etcd says 'etcd --help', and prints no timestamp/"E | etcdmain:"
// prefix; otherwise the text is etcd's. test/cli/etcd-compat.test.ts re-checks them against the
// binary when it is installed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ConfigError, EtcdUrl, REJECTED_FLAGS, UNSUPPORTED_FLAGS, compactionRetention, flagToEnv, parseEtcdUrls,
  parseGoDurationNs, parseGoInt, parseGoUint, parseMemberConfig,
} from '../../src/cli/flags.js';
import type { ParseResult } from '../../src/cli/flags.js';
import { FLAG_SPECS, HELP_GROUPS, TETCD_VERSION, renderHelp } from '../../src/cli/help.js';
import type { MemberConfig } from '../../schemas/config.js';
import { ERRORS } from './error-cases.js';
import { MemberConfigSchema } from '../../schemas/config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function parse(argv: string[], env: NodeJS.ProcessEnv = {}): { config: MemberConfig; warnings: string[] } {
  const r: ParseResult = parseMemberConfig(argv, env);
  assert.ok('config' in r, `expected a config, got ${JSON.stringify(r).slice(0, 200)}`);
  return r;
}

/** The ConfigError parseMemberConfig throws; fails the test if it returns instead. */
function failure(argv: string[], env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseMemberConfig(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(argv)} to be refused`);
}

/** JSON form, so that URLs compare by their etcd spelling. */
function plain(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x));
}

describe('defaults', () => {
  it('match etcd 3.4 (URLs on 127.0.0.1 where etcd says localhost)', () => {
    const { config, warnings } = parse([]);
    assert.deepEqual(warnings, []);
    assert.deepEqual(plain(config), {
      name: 'default', dataDir: 'default.etcd', walDir: '', snapshotCount: 100000,
      heartbeatIntervalMs: 100, electionTimeoutMs: 1000, initialElectionTickAdvance: true,
      listenPeerUrls: ['http://127.0.0.1:2380'], listenClientUrls: ['http://127.0.0.1:2379'],
      maxSnapshots: 5, maxWals: 5, quotaBackendBytes: 0, backendBatchIntervalMs: 0, backendBatchLimit: 0,
      maxTxnOps: 128, maxRequestBytes: 1572864,
      initialAdvertisePeerUrls: ['http://127.0.0.1:2380'],
      initialCluster: [{ name: 'default', peerUrls: ['http://127.0.0.1:2380'] }],
      initialClusterState: 'new', initialClusterToken: 'etcd-cluster',
      advertiseClientUrls: ['http://127.0.0.1:2379'], strictReconfigCheck: true, preVote: false,
      autoCompactionMode: 'periodic', autoCompactionRetention: '0',
      enablePprof: false, metrics: 'basic', listenMetricsUrls: [],
      logger: 'capnslog', logOutputs: ['default'], logLevel: 'info',
      experimentalCompactionBatchLimit: 1000, experimentalWatchProgressNotifyIntervalMs: 600000,
      experimentalWarningApplyDurationMs: 100, unsafeNoFsync: false,
    });
    assert.ok(MemberConfigSchema.safeParse(config).success);
  });

  it('derive the data dir and the initial cluster from --name', () => {
    const { config } = parse(['--name', 'infra1']);
    assert.equal(config.dataDir, 'infra1.etcd');
    assert.deepEqual(plain(config.initialCluster), [{ name: 'infra1', peerUrls: ['http://127.0.0.1:2380'] }]);
  });

  it('derive the initial cluster from --name and --initial-advertise-peer-urls (etcd UpdateDefaultClusterFromName)', () => {
    const { config } = parse(['--name', 'n1', '--initial-advertise-peer-urls', 'http://10.0.0.2:2380,http://10.0.0.1:2380']);
    assert.deepEqual(plain(config.initialCluster), [{ name: 'n1', peerUrls: ['http://10.0.0.1:2380', 'http://10.0.0.2:2380'] }]);
  });
});

/** [flag, value, config field, expected JSON value, extra args the flag needs to be valid]. */
const SUPPORTED: [string, string, keyof MemberConfig, unknown, string[]?][] = [
  ['name', 'infra1', 'name', 'infra1'],
  ['data-dir', '/var/lib/x', 'dataDir', '/var/lib/x'],
  ['wal-dir', '/var/lib/w', 'walDir', '/var/lib/w'],
  ['snapshot-count', '5000', 'snapshotCount', 5000],
  ['heartbeat-interval', '50', 'heartbeatIntervalMs', 50],
  ['election-timeout', '2500', 'electionTimeoutMs', 2500],
  ['initial-election-tick-advance', 'false', 'initialElectionTickAdvance', false],
  ['listen-peer-urls', 'http://127.0.0.1:12380', 'listenPeerUrls', ['http://127.0.0.1:12380']],
  ['listen-client-urls', 'http://127.0.0.1:12379,http://10.0.0.1:2379', 'listenClientUrls', ['http://10.0.0.1:2379', 'http://127.0.0.1:12379'], ['--advertise-client-urls', 'http://10.0.0.1:2379']],
  ['max-snapshots', '3', 'maxSnapshots', 3],
  ['max-wals', '0', 'maxWals', 0],
  ['quota-backend-bytes', '8589934592', 'quotaBackendBytes', 8589934592],
  ['backend-batch-interval', '10ms', 'backendBatchIntervalMs', 10],
  ['backend-batch-limit', '500', 'backendBatchLimit', 500],
  ['max-txn-ops', '0x100', 'maxTxnOps', 256],
  ['max-request-bytes', '10485760', 'maxRequestBytes', 10485760],
  ['initial-advertise-peer-urls', 'http://127.0.0.1:12380', 'initialAdvertisePeerUrls', ['http://127.0.0.1:12380'], ['--initial-cluster', 'default=http://127.0.0.1:12380']],
  ['initial-cluster', 'b=http://127.0.0.1:2381,default=http://127.0.0.1:2380', 'initialCluster',
    [{ name: 'b', peerUrls: ['http://127.0.0.1:2381'] }, { name: 'default', peerUrls: ['http://127.0.0.1:2380'] }]],
  ['initial-cluster-state', 'existing', 'initialClusterState', 'existing'],
  ['initial-cluster-token', 'tok-1', 'initialClusterToken', 'tok-1'],
  ['advertise-client-urls', 'http://10.0.0.1:2379', 'advertiseClientUrls', ['http://10.0.0.1:2379']],
  ['strict-reconfig-check', 'false', 'strictReconfigCheck', false],
  ['pre-vote', 'true', 'preVote', true],
  ['auto-compaction-retention', '1h30m', 'autoCompactionRetention', '1h30m'],
  ['auto-compaction-mode', 'revision', 'autoCompactionMode', 'revision'],
  ['enable-pprof', 'true', 'enablePprof', true],
  ['metrics', 'extensive', 'metrics', 'extensive'],
  ['listen-metrics-urls', 'http://127.0.0.1:9090', 'listenMetricsUrls', ['http://127.0.0.1:9090']],
  ['logger', 'zap', 'logger', 'zap'],
  ['log-outputs', 'stderr', 'logOutputs', ['stderr']],
  ['log-level', 'warn', 'logLevel', 'warn'],
  ['debug', 'true', 'logLevel', 'debug'],
  // etcd 3.4 quirk, kept: a lone --log-output only warns; --log-outputs stays 'default'.
  ['log-output', 'stderr', 'logOutputs', ['default']],
  ['experimental-compaction-batch-limit', '50', 'experimentalCompactionBatchLimit', 50],
  ['experimental-watch-progress-notify-interval', '5s', 'experimentalWatchProgressNotifyIntervalMs', 5000],
  ['experimental-warning-apply-duration', '1.5s', 'experimentalWarningApplyDurationMs', 1500],
  ['unsafe-no-fsync', 'true', 'unsafeNoFsync', true],
];

function formsOf(flag: string, value: string, isBool: boolean): string[][] {
  const forms = [[`--${flag}=${value}`], [`-${flag}=${value}`]];
  if (isBool && value === 'true') forms.push([`--${flag}`], [`-${flag}`]);
  if (!isBool) forms.push([`--${flag}`, value], [`-${flag}`, value]);
  return forms;
}

describe('every supported flag', () => {
  it('is covered by this table', () => {
    const supported = FLAG_SPECS.filter((s) => s.support === 'yes' && s.name !== 'version').map((s) => s.name).sort();
    assert.deepEqual(SUPPORTED.map(([f]) => f).sort(), supported);
  });

  for (const [flag, value, field, expected, extra = []] of SUPPORTED) {
    const isBool = FLAG_SPECS.find((s) => s.name === flag)?.kind === 'bool';
    it(`--${flag}: every Go form and ${flagToEnv(flag)}`, () => {
      for (const form of formsOf(flag, value, isBool)) {
        const { config } = parse([...form, ...extra]);
        assert.deepEqual(plain(config[field]), expected, `form ${form.join(' ')}`);
      }
      const { config } = parse(extra, { [flagToEnv(flag)]: value });
      assert.deepEqual(plain(config[field]), expected, 'environment');
    });
  }
});

describe('command-line syntax (Go flag package)', () => {
  it('-h, -help, --help and --help=x give the help; the help wins over earlier flags', () => {
    for (const argv of [['-h'], ['-help'], ['--help'], ['--help=x'], ['--name', 'x', '-h']]) {
      const r = parseMemberConfig(argv, {});
      assert.ok('help' in r, argv.join(' '));
    }
  });

  it('--version gives the version; a bad flag after it still fails first (etcd: exit 2)', () => {
    const r = parseMemberConfig(['--version'], {});
    assert.ok('version' in r);
    assert.match(r.version, new RegExp(`^tetcd Version: ${TETCD_VERSION.replaceAll('.', '\\.')}\netcd API Version: 3\\.4\n`));
    assert.equal(failure(['--version', '--bogus']).exitCode, 2);
  });

  it('the last occurrence of a flag wins', () => {
    assert.equal(parse(['--name', 'a', '--name=b']).config.name, 'b');
  });

  it('a value may start with a dash (Go takes the next argument as is)', () => {
    assert.equal(parse(['--initial-cluster-token', '--x']).config.initialClusterToken, '--x');
  });

  it('"--" ends the flags and what follows is refused like any stray argument', () => {
    // etcd 3.4.23: "error verifying flags, '--name' is not a valid flag. See 'etcd --help'." exit 1
    const e = failure(['--', '--name', 'x']);
    assert.equal(e.exitCode, 1);
    assert.equal(e.message, "error verifying flags, '--name' is not a valid flag. See 'tetcd --help'.");
  });

  it('a boolean does not take the next argument (etcd: \'false\' is not a valid flag, exit 1)', () => {
    const e = failure(['--enable-pprof', 'false']);
    assert.equal(e.message, "error verifying flags, 'false' is not a valid flag. See 'tetcd --help'.");
    assert.equal(e.exitCode, 1);
  });

  it('Go numbers: base prefixes, underscores, signs, ranges', () => {
    assert.equal(parseGoUint('0x10', 2n ** 64n - 1n), 16n);
    assert.equal(parseGoUint('010', 2n ** 64n - 1n), 8n);
    assert.equal(parseGoUint('0b101', 2n ** 64n - 1n), 5n);
    assert.equal(parseGoUint('1_000', 2n ** 64n - 1n), 1000n); // etcd accepts --snapshot-count 1_000
    assert.equal(parseGoUint('1__0', 2n ** 64n - 1n), 'syntax');
    assert.equal(parseGoUint('-1', 2n ** 64n - 1n), 'syntax');
    assert.equal(parseGoUint('', 2n ** 64n - 1n), 'syntax');
    assert.equal(parseGoUint('18446744073709551616', 2n ** 64n - 1n), 'range');
    assert.equal(parseGoInt('-9223372036854775808'), -(2n ** 63n));
    assert.equal(parseGoInt('9223372036854775808'), 'range');
    assert.equal(parse(['--quota-backend-bytes', '-1']).config.quotaBackendBytes, -1);
  });

  it('Go durations', () => {
    assert.equal(parseGoDurationNs('1h30m'), 5400e9);
    assert.equal(parseGoDurationNs('1.5s'), 1.5e9);
    assert.equal(parseGoDurationNs('-2ms'), -2e6);
    assert.equal(parseGoDurationNs('0'), 0);
    assert.throws(() => parseGoDurationNs('5'), /^Error: time: missing unit in duration "5"$/);
    assert.throws(() => parseGoDurationNs('5x'), /^Error: time: unknown unit "x" in duration "5x"$/);
    assert.throws(() => parseGoDurationNs('abc'), /^Error: time: invalid duration "abc"$/);
    assert.throws(() => parseGoDurationNs(''), /^Error: time: invalid duration ""$/);
  });
});

describe('URLs', () => {
  it('print as etcd spells them: no trailing slash, explicit default port kept', () => {
    const [u] = parseEtcdUrls('HTTP://127.0.0.1:80');
    assert.ok(u instanceof EtcdUrl && u instanceof URL);
    assert.equal(String(u), 'http://127.0.0.1:80');
    assert.equal(JSON.stringify([u]), '["http://127.0.0.1:80"]');
  });

  it('are trimmed, sorted and deduplicated; IPv6 and query strings pass as in Go', () => {
    assert.deepEqual(parseEtcdUrls(' http://b:1 ,http://a:1,http://b:1').map(String), ['http://a:1', 'http://b:1']);
    assert.deepEqual(parseEtcdUrls('http://[::1]:2379?x=1').map(String), ['http://[::1]:2379?x=1']);
  });

  it('an empty listen or advertise value keeps the current URLs (etcd allows "" as an exception)', () => {
    assert.deepEqual(plain(parse(['--listen-client-urls', '', '--advertise-client-urls', '']).config.listenClientUrls), ['http://127.0.0.1:2379']);
  });
});

describe('validation errors (etcd 3.4.23 wording and exit codes)', () => {
  for (const [argv, code, message] of ERRORS) {
    it(`${argv.join(' ')} -> exit ${code}`, () => {
      const e = failure(argv);
      assert.equal(e.exitCode, code);
      if (code === 2) {
        const [first, ...rest] = e.message.split('\n');
        assert.equal(first, message);
        assert.match(rest.join('\n'), /^Usage:\n\n {2}tetcd \[flags\]/);
      } else {
        assert.equal(e.message, message);
      }
    });
  }

  it('an existing cluster only needs this member in --initial-cluster (etcd VerifyJoinExisting)', () => {
    const { config } = parse(['--initial-cluster-state', 'existing', '--initial-advertise-peer-urls', 'http://127.0.0.1:5', '--initial-cluster', 'default=http://127.0.0.1:6']);
    assert.equal(config.initialClusterState, 'existing');
  });

  it('an unknown --log-level stops tetcd with exit 2 (etcd 3.4 panics: exit 2)', () => {
    const e = failure(['--log-level', 'verbose']);
    assert.equal(e.exitCode, 2);
    assert.match(e.message, /unknown level "verbose"/);
    assert.equal(parse(['--debug', '--log-level', 'verbose']).config.logLevel, 'debug'); // capnslog skips the check
  });
});

describe('ETCD_* environment variables', () => {
  it('a variable for a flag also given on the command line is fatal, even empty (etcd 3.4: exit 1)', () => {
    for (const value of ['foo', '']) {
      const e = failure(['--name', 'bar'], { ETCD_NAME: value });
      assert.equal(e.exitCode, 1);
      assert.equal(e.message, 'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)');
    }
  });

  it('empty variables are skipped; unknown ETCD_* variables only warn', () => {
    const { config, warnings } = parse([], { ETCD_NAME: '', ETCD_FOO: 'bar', ETCDCTL_API: '3' });
    assert.equal(config.name, 'default');
    assert.deepEqual(warnings, ['unrecognized environment variable ETCD_FOO=bar']);
  });

  it('a bad value is reported with the variable name (etcd: exit 1)', () => {
    const e = failure([], { ETCD_HEARTBEAT_INTERVAL: 'abc' });
    assert.equal(e.exitCode, 1);
    assert.equal(e.message, "error verifying flags, invalid value \"abc\" for ETCD_HEARTBEAT_INTERVAL: parse error. See 'tetcd --help'.");
    // Docker images often export ETCD_VERSION=3.4.x; etcd refuses it the same way.
    assert.equal(failure([], { ETCD_VERSION: '3.4.23' }).message, "error verifying flags, invalid value \"3.4.23\" for ETCD_VERSION: parse error. See 'tetcd --help'.");
  });

  it('a listen URL set by variable counts as set: the advertise URL is then required', () => {
    const e = failure([], { ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:1' });
    assert.match(e.message, /--advertise-client-urls is required/);
    const { config } = parse([], { ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:1', ETCD_ADVERTISE_CLIENT_URLS: 'http://127.0.0.1:1' });
    assert.deepEqual(plain(config.listenClientUrls), ['http://127.0.0.1:1']);
  });

  it('variables and flags combine', () => {
    const { config } = parse(['--name', 'n1'], { ETCD_DATA_DIR: '/d', ETCD_INITIAL_CLUSTER_TOKEN: 't' });
    assert.deepEqual([config.name, config.dataDir, config.initialClusterToken], ['n1', '/d', 't']);
  });
});

/** A value etcd accepts for each kind, different from the flag's default. */
function sampleValue(kind: string, choices: readonly string[] | undefined, def: string): string {
  switch (kind) {
    case 'bool': return def === 'true' ? 'false' : 'true';
    case 'uint': case 'uint32': case 'int': return '7';
    case 'duration': return '3s';
    case 'urls': return 'http://127.0.0.1:1';
    case 'choice': return choices?.[1] ?? '';
    case 'strings': return 'a,b';
    default: return 'x';
  }
}

describe('flags tetcd does not support', () => {
  it('UNSUPPORTED_FLAGS are accepted with a warning when set to a non-default value', () => {
    assert.ok(UNSUPPORTED_FLAGS.includes('cert-file') && UNSUPPORTED_FLAGS.includes('auth-token'));
    for (const name of UNSUPPORTED_FLAGS) {
      const spec = FLAG_SPECS.find((s) => s.name === name);
      assert.ok(spec !== undefined);
      const extra = name === 'experimental-enable-lease-checkpoint-persist' ? ['--experimental-enable-lease-checkpoint'] : [];
      if (spec.kind === 'legacy') {
        assert.deepEqual(parse([`--${name}`]).warnings, [`flag "-${name}" is no longer supported - ignoring.`]);
        continue;
      }
      const { warnings } = parse([`--${name}=${sampleValue(spec.kind, spec.choices, spec.def)}`, ...extra]);
      assert.ok(warnings.includes(`--${name} is not supported by tetcd yet and is ignored`), `${name}: ${warnings.join('; ')}`);
      assert.deepEqual(parse([`--${name}=${spec.def}`]).warnings, [], `${name} at its default is silent`);
    }
  });

  it('REJECTED_FLAGS stop tetcd (exit 1) when set; at their default they are fine', () => {
    assert.deepEqual([...REJECTED_FLAGS].sort(), ['config-file', 'discovery', 'discovery-srv', 'discovery-srv-name', 'force-new-cluster', 'proxy']);
    for (const name of REJECTED_FLAGS) {
      const spec = FLAG_SPECS.find((s) => s.name === name);
      assert.ok(spec !== undefined);
      const e = failure([`--${name}=${spec.kind === 'bool' ? 'true' : spec.kind === 'choice' ? 'on' : 'http://127.0.0.1:1'}`]);
      assert.equal(e.exitCode, 1);
      assert.match(e.message, new RegExp(`^tetcd does not support --${name} yet`));
    }
    assert.equal(failure([], { ETCD_CONFIG_FILE: '/etc/etcd.yml' }).exitCode, 1);
    assert.equal(parse(['--proxy=off']).config.name, 'default');
  });

  it('https:// and unix:// listeners are refused; the gateway subcommands too', () => {
    assert.match(failure(['--listen-client-urls', 'https://127.0.0.1:1', '--advertise-client-urls', 'https://127.0.0.1:1']).message, /does not support TLS/);
    assert.match(failure(['--listen-peer-urls', 'unix://localhost:1']).message, /does not support unix socket/);
    assert.equal(failure(['gateway', 'start']).exitCode, 1);
  });
});

describe('help and version', () => {
  const help = renderHelp();

  it('lists every flag but the legacy ones, with its default, under etcd\'s groups in order', () => {
    for (const spec of FLAG_SPECS) {
      if (spec.kind === 'legacy') continue;
      assert.ok(help.includes(`\n  --${spec.name} '${spec.shown ?? spec.def}'\n    `), spec.name);
    }
    const positions = HELP_GROUPS.filter((g) => g !== 'Hidden').map((g) => help.indexOf(`\n${g}:\n`));
    assert.ok(positions.every((p) => p > 0), 'every group has a heading');
    assert.deepEqual([...positions].sort((a, b) => a - b), positions);
  });

  it('says which flags are ignored or refused, and where the defaults differ from etcd', () => {
    assert.match(help, /--cert-file ''\n {4}.*Ignored by tetcd/);
    assert.match(help, /--discovery ''\n {4}.*refused/);
    assert.match(help, /127\.0\.0\.1 where etcd's default to localhost/);
  });

  it('TETCD_VERSION is package.json\'s version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(TETCD_VERSION, pkg.version);
  });
});

describe('compactionRetention', () => {
  it('reads hours or durations (periodic) and counts (revision), as etcd does', () => {
    assert.deepEqual(compactionRetention('periodic', '5'), { mode: 'periodic', periodMs: 5 * 3_600_000 });
    assert.deepEqual(compactionRetention('periodic', '30m'), { mode: 'periodic', periodMs: 1_800_000 });
    assert.deepEqual(compactionRetention('revision', '1000'), { mode: 'revision', revisions: 1000 });
    assert.throws(() => compactionRetention('periodic', 'soon'), ConfigError);
  });
});

describe('flags-probe.ts (a real child process)', () => {
  const probe = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(
    process.execPath, ['--import', 'tsx', 'src/cli/flags-probe.ts', ...args],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '', ...env } },
  );

  it('--bogus: exit 2, Go\'s message then the usage on stderr, nothing on stdout', () => {
    const r = probe(['--bogus']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^flag provided but not defined: -bogus\nUsage:\n\n {2}tetcd \[flags\]\n/);
  });

  it('a flag/variable conflict: exit 1', () => {
    const r = probe(['--name', 'x'], { ETCD_NAME: 'y' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^conflicting environment variable "ETCD_NAME"/);
  });

  it('good flags: exit 0 and the config as JSON', () => {
    const r = probe(['-name=n1', '--listen-client-urls', 'http://127.0.0.1:0', '--advertise-client-urls', 'http://127.0.0.1:1']);
    assert.equal(r.status, 0, r.stderr);
    const config = JSON.parse(r.stdout) as { name: string; listenClientUrls: string[] };
    assert.equal(config.name, 'n1');
    assert.deepEqual(config.listenClientUrls, ['http://127.0.0.1:0']);
  });
});
