// Runs every transcript in test/raft/testdata (see interpreter.ts for the format). With REWRITE=1
// the expected outputs are regenerated instead of compared (review the diff before keeping it).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runTranscript } from './interpreter.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata');
const rewrite = process.env.REWRITE === '1';

for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
  test(`transcript ${file}`, () => {
    const p = path.join(dir, file);
    const text = fs.readFileSync(p, 'utf8');
    const { blocks, actual, rewritten } = runTranscript(text);
    if (rewrite) {
      fs.writeFileSync(p, rewritten);
      return;
    }
    assert.ok(blocks.length > 0, `${file} has no commands`);
    blocks.forEach((b, i) => assert.equal(actual[i], b.expected, `${file}: output of "${b.command}" (block ${i + 1})`));
  });
}
