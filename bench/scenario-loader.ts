// Finds a scenario by name: the file `bench/scenarios/<name>.ts`, loaded with a dynamic import
// (in the main thread and in every load worker, which run under tsx). The name is checked
// against the directory listing first, so a typo gets the list of known scenarios, not a stack.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SCENARIO_NAME_RE } from './scenario.js';
import type { Scenario } from './scenario.js';

export const SCENARIOS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios');

/** Names of all scenarios, sorted. */
export function listScenarios(): string[] {
  return fs.readdirSync(SCENARIOS_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .filter((n) => SCENARIO_NAME_RE.test(n))
    .sort();
}

const loaded = new Map<string, Scenario>();

export async function loadScenario(name: string): Promise<Scenario> {
  const cached = loaded.get(name);
  if (cached !== undefined) return cached;
  const known = listScenarios();
  if (!SCENARIO_NAME_RE.test(name) || !known.includes(name)) {
    throw new Error(`unknown scenario '${name}'; known: ${known.join(', ')}`);
  }
  const mod = (await import(pathToFileURL(path.join(SCENARIOS_DIR, `${name}.ts`)).href)) as { default?: Scenario };
  const scenario = mod.default;
  assert.ok(scenario !== undefined && typeof scenario.createClient === 'function', `scenario ${name}: default export is not a Scenario`);
  assert.equal(scenario.name, name, `scenario file ${name}.ts exports a scenario named '${scenario.name}'`);
  loaded.set(name, scenario);
  return scenario;
}
