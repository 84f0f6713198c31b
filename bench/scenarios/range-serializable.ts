// `range-serializable`: like `range`, but each read sets `serializable: true`, so the member
// answers from its own applied state without a quorum round.

import type { Scenario } from '../scenario.js';
import { fillKeySpace } from '../scenario.js';
import { rangeClient } from './range.js';

const scenario: Scenario = {
  name: 'range-serializable',
  description: 'serializable single-key reads over K existing keys',
  prepare: (ctx) => fillKeySpace(ctx),
  createClient: (ctx) => rangeClient(ctx, true),
};
export default scenario;
