// A tiny command that runs only the flag parser, for tests and for comparing with real etcd by
// hand: `node --import tsx src/cli/flags-probe.ts --name x`. It prints the parsed config as JSON
// on stdout (warnings on stderr, one per line), or the help / version text on stdout, or etcd's
// error on stderr and exits with etcd's code (2 for flag syntax, 1 for the rest). It starts no
// server and touches no file.

import process from 'node:process';
import { ConfigError, parseMemberConfig } from './flags.js';

function main(): number {
  let parsed: ReturnType<typeof parseMemberConfig>;
  try {
    parsed = parseMemberConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return err.exitCode;
  }
  if ('help' in parsed) {
    process.stdout.write(parsed.help);
  } else if ('version' in parsed) {
    process.stdout.write(parsed.version);
  } else {
    for (const w of parsed.warnings) process.stderr.write(`${w}\n`);
    process.stdout.write(`${JSON.stringify(parsed.config, null, 2)}\n`);
  }
  return 0;
}

process.exitCode = main();
