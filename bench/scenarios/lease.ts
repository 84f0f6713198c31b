// `lease`: lease keep-alives and the cost of leases at rest. For each L (`--leases`), the bench
// grants L leases concurrently (the grant rate), measures the server's CPU and memory with the L
// leases granted and idle, then keeps them alive over S streams (`--param streams`, HTTP
// `POST /v3/lease/keepalive` or `--transport ws`) as fast as the server answers: keep-alives/s,
// latency per keep-alive, errors and server CPU. The harness drives it through lease-runner.ts
// (run.ts dispatches on the name) and lease-stream.ts; see bench/README.md, "Lease keep-alives".
//
// `createClient` is never used by that runner; every Scenario must have one and the scenario
// tests expect key-value requests of it, so it is the plain put load of `put` (the write path a
// lease's keys would take), which keeps `lease` well-formed if loaded as a request scenario.

import { putClient } from './put.js';
import type { Scenario } from '../scenario.js';

const scenario: Scenario = {
  name: 'lease',
  description: 'lease keep-alives: grant L leases, CPU and memory at rest, then keep-alives/s over S streams',
  createClient: putClient,
};
export default scenario;
