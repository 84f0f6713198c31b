// Bad command lines and the exact error etcd 3.4.23 gives for each, shared by flags.test.ts
// (tetcd's parser against these texts) and etcd-compat.test.ts (tetcd against the real binary).
// tetcd says 'tetcd --help' where etcd says 'etcd --help'; Go flag errors (exit 2) are followed
// by the usage text.

/**
 * [argv, exit code, exact message]: each checked against etcd 3.4.23 (see the file header).
 * Go flag errors (exit 2) are followed by the usage text, checked separately.
 */
export const ERRORS: [string[], 1 | 2, string][] = [
  [['--bogus'], 2, 'flag provided but not defined: -bogus'],
  [['-heartbeat-interval', 'abc'], 2, 'invalid value "abc" for flag -heartbeat-interval: parse error'],
  [['--heartbeat-interval=-1'], 2, 'invalid value "-1" for flag -heartbeat-interval: parse error'],
  [['--max-txn-ops', '18446744073709551616'], 2, 'invalid value "18446744073709551616" for flag -max-txn-ops: value out of range'],
  [['--max-concurrent-streams', 'x'], 2, 'invalid value "x" for flag -max-concurrent-streams: strconv.ParseUint: parsing "x": invalid syntax'],
  [['--grpc-keepalive-timeout', '5'], 2, 'invalid value "5" for flag -grpc-keepalive-timeout: parse error'],
  [['--enable-pprof=maybe'], 2, 'invalid boolean value "maybe" for -enable-pprof: parse error'],
  [['--name'], 2, 'flag needs an argument: -name'],
  [['---name=x'], 2, 'bad flag syntax: ---name=x'],
  [['--initial-cluster-state', 'maybe'], 2, 'invalid value "maybe" for flag -initial-cluster-state: invalid value'],
  [['--listen-client-urls', 'localhost:2379'], 2, 'invalid value "localhost:2379" for flag -listen-client-urls: URL scheme must be http, https, unix, or unixs: localhost:2379'],
  [['--listen-client-urls', 'http://127.0.0.1'], 2, 'invalid value "http://127.0.0.1" for flag -listen-client-urls: URL address does not have the form "host:port": http://127.0.0.1'],
  [['--listen-client-urls', 'http://127.0.0.1:2379/'], 2, 'invalid value "http://127.0.0.1:2379/" for flag -listen-client-urls: URL must not contain a path: http://127.0.0.1:2379/'],
  [['--listen-client-urls', 'ftp://127.0.0.1:1'], 2, 'invalid value "ftp://127.0.0.1:1" for flag -listen-client-urls: URL scheme must be http, https, unix, or unixs: ftp://127.0.0.1:1'],
  [['--listen-client-urls', 'http://127.0.0.1:1,,http://127.0.0.1:2'], 2, 'invalid value "http://127.0.0.1:1,,http://127.0.0.1:2" for flag -listen-client-urls: URL scheme must be http, https, unix, or unixs: '],
  [['--listen-client-urls', 'http://127.0.0.1:abc'], 2, 'invalid value "http://127.0.0.1:abc" for flag -listen-client-urls: parse "http://127.0.0.1:abc": invalid port ":abc" after host'],
  [['--listen-client-urls', '%zz'], 2, 'invalid value "%zz" for flag -listen-client-urls: parse "%zz": invalid URL escape "%zz"'],
  [['--cors', 'foo'], 2, 'invalid value "foo" for flag -cors: URL scheme must be http, https, unix, or unixs: foo'],
  [['--enable-pprof', 'false'], 1, "error verifying flags, 'false' is not a valid flag. See 'tetcd --help'."],
  [['--election-timeout=400'], 1, "error verifying flags, --election-timeout[400ms] should be at least as 5 times as --heartbeat-interval[100ms]. See 'tetcd --help'."],
  [['--heartbeat-interval=0x10', '--election-timeout', '10'], 1, "error verifying flags, --election-timeout[10ms] should be at least as 5 times as --heartbeat-interval[16ms]. See 'tetcd --help'."],
  [['--heartbeat-interval=0'], 1, "error verifying flags, --heartbeat-interval must be >0 (set to 0ms). See 'tetcd --help'."],
  [['--election-timeout=0'], 1, "error verifying flags, --election-timeout must be >0 (set to 0ms). See 'tetcd --help'."],
  [['--election-timeout=60000', '--heartbeat-interval=1000'], 1, "error verifying flags, --election-timeout[60000ms] is too long, and should be set less than 50000ms. See 'tetcd --help'."],
  [['--listen-client-urls', 'http://example.com:2379', '--advertise-client-urls', 'http://127.0.0.1:1'], 1, "error verifying flags, expected IP in URL for binding (http://example.com:2379). See 'tetcd --help'."],
  [['--listen-client-urls', 'http://:2379', '--advertise-client-urls', 'http://127.0.0.1:1'], 1, "error verifying flags, expected IP in URL for binding (http://:2379). See 'tetcd --help'."],
  [['--listen-client-urls', 'http://127.0.0.1:2379'], 1, "error verifying flags, --advertise-client-urls is required when --listen-client-urls is set explicitly. See 'tetcd --help'.\nWhen listening on specific address(es), this etcd process must advertise accessible url(s) to each connected client."],
  [['--auto-compaction-mode', 'hourly'], 1, "error verifying flags, unknown auto-compaction-mode \"hourly\". See 'tetcd --help'."],
  [['--logger', 'foo'], 1, "error verifying flags, unknown logger option \"foo\". See 'tetcd --help'."],
  [['--log-outputs', 'stderr,stdout'], 1, "error verifying flags, --logger=capnslog supports only 1 value in '--log-outputs', got [\"stderr\" \"stdout\"]. See 'tetcd --help'."],
  [['--discovery', 'http://127.0.0.1:1/x', '--initial-cluster', 'default=http://127.0.0.1:2380'], 1, "error verifying flags, multiple discovery or bootstrap flags are set. Choose one of \"initial-cluster\", \"discovery\" or \"discovery-srv\". See 'tetcd --help'."],
  [['--experimental-enable-lease-checkpoint-persist'], 1, "error verifying flags, setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint. See 'tetcd --help'."],
  [['--auto-compaction-retention', 'abc'], 1, 'error parsing CompactionRetention: time: invalid duration "abc"'],
  [['--auto-compaction-retention', '-1'], 1, 'error parsing CompactionRetention: time: missing unit in duration "-1"'],
  [['--initial-advertise-peer-urls', 'http://127.0.0.1:5'], 1, '--initial-cluster has default=http://127.0.0.1:2380 but missing from --initial-advertise-peer-urls=http://127.0.0.1:5 (resolved urls: "http://127.0.0.1:5" != "http://127.0.0.1:2380")'],
  [['--name', 'foo', '--initial-cluster', 'bar=http://127.0.0.1:2380'], 1, 'couldn\'t find local name "foo" in the initial cluster configuration'],
  [['--initial-cluster', ''], 1, 'couldn\'t find local name "default" in the initial cluster configuration'],
  [['--initial-advertise-peer-urls', 'http://127.0.0.1:5,http://127.0.0.1:2', '--initial-cluster', 'default=http://127.0.0.1:5'], 1, '--initial-advertise-peer-urls has http://127.0.0.1:2 but missing from --initial-cluster=default=http://127.0.0.1:2,default=http://127.0.0.1:5'],
  [['--initial-cluster', 'default=http://127.0.0.1:2380,b=http://127.0.0.1:2380'], 1, 'initial cluster b=http://127.0.0.1:2380,default=http://127.0.0.1:2380 has duplicate url'],
  [['--initial-cluster', 'default=127.0.0.1:2380'], 1, 'error setting up initial cluster: parse "127.0.0.1:2380": first path segment in URL cannot contain colon'],
];
