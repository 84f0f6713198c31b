// Piscina load-worker entry. Worker threads under Node 20 do not inherit the tsx loader of the
// main thread, so this plain-JS file registers tsx, then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
const m = await import('./load-worker.ts');
const f = await import('./fanout-worker.ts');
export default m.default;
export const ping = m.ping;
/** The watch fan-out task (piscina `name: 'fanout'`). */
export const fanout = f.default;
