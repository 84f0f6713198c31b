// A test actor: echoes messages back with a counter, and crashes on request.
import { actorBoot, mainPort, receive } from '../../src/actors/runtime.js';

const boot = actorBoot<{ greeting: string }>();
let n = 0;
receive<{ type: 'echo'; text: string } | { type: 'crash' } | { type: 'exit' }>(mainPort(), (msg) => {
  if (msg.type === 'crash') throw new Error('invariant broken on purpose');
  if (msg.type === 'exit') process.exit(3);
  n += 1;
  mainPort().postMessage({ type: 'echo', text: `${boot.init.greeting} ${msg.text}`, n });
});
