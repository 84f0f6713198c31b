// The KV compatibility suite: every group of cases in cases/ runs on a fresh real etcd 3.4 and a
// fresh tetcd, and each case must get the same answers from both (see runner.ts for what is
// normalized). Without etcd installed the suite is skipped with the reason, except in CI (CI set),
// where a missing etcd is a failure: the suite must always run there.
//
// TETCD_COMPAT_CANDIDATE=etcd runs etcd against etcd instead, which proves the normalization (two
// correct servers must compare equal). TETCD_COMPAT_REPORT=<file> writes every differing step
// as markdown (the raw material of DIFFERENCES.md); TETCD_COMPAT_DUMP=<file> writes every step
// of every case, to review what etcd actually answered.

import fs from 'node:fs';
import { describe, it } from 'node:test';
import { etcdMissingReason, startEtcd, startTetcd, tetcdMissingReason } from '../helpers/servers.js';
import { compactionCases } from './cases/compaction.js';
import { deleteCases } from './cases/delete.js';
import { inputCases } from './cases/input.js';
import { putCases } from './cases/put.js';
import { rangeCases } from './cases/range.js';
import { txnCases } from './cases/txn.js';
import type { CompatGroup } from './model.js';
import { describeStep, firstDifference, runGroup, type CaseResult } from './runner.js';

const groups: CompatGroup[] = [
  { name: 'range', cases: rangeCases },
  { name: 'put', cases: putCases },
  { name: 'delete', cases: deleteCases },
  { name: 'txn', cases: txnCases },
  { name: 'compaction', cases: compactionCases },
  { name: 'bad input', cases: inputCases },
];

/** Groups run side by side: each has its own servers, so only CPU limits this. */
const groupConcurrencyMax = 3;

const candidateIsEtcd = process.env.TETCD_COMPAT_CANDIDATE === 'etcd';
const names: [string, string] = ['etcd', candidateIsEtcd ? 'etcd#2' : 'tetcd'];
const reportFile = process.env.TETCD_COMPAT_REPORT;
const dumpFile = process.env.TETCD_COMPAT_DUMP;

function skipReason(): string | undefined {
  const etcd = etcdMissingReason();
  if (etcd !== undefined) {
    if (process.env.CI) throw new Error(`compat suite must run in CI: ${etcd}`);
    return etcd;
  }
  return candidateIsEtcd ? undefined : tetcdMissingReason();
}

function report(group: string, result: CaseResult): void {
  if (dumpFile !== undefined) {
    const steps = result.steps.map((_, i) => describeStep(result, i, names)).join('\n');
    fs.appendFileSync(dumpFile, `### ${group}: ${result.name}\n${steps}\n\n`);
  }
  if (reportFile === undefined) return;
  const index = firstDifference(result);
  if (index < 0) return;
  fs.appendFileSync(reportFile, `### ${group}: ${result.name}\n\n\`\`\`\n${describeStep(result, index, names)}\n\`\`\`\n\n`);
}

const skip = skipReason();

describe(`kv compatibility: ${names[1]} vs etcd 3.4`, { concurrency: groupConcurrencyMax, ...(skip ? { skip } : {}) }, () => {
  for (const group of groups) {
    it(group.name, (t) =>
      runGroup(t, group, {
        startReference: startEtcd,
        startCandidate: candidateIsEtcd ? startEtcd : startTetcd,
        names,
        onResult: report,
      }),
    );
  }
});
