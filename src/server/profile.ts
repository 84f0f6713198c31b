// CPU profiles on demand: with TETCD_CPU_PROFILE_DIR set, each thread of a member (the gateway
// and every actor) records a V8 CPU profile from start to stop and writes it as
// <dir>/<thread>-<pid>.cpuprofile, which Chrome DevTools (Performance > Load profile) or
// speedscope open. Without the variable this costs nothing.

import fs from 'node:fs';
import path from 'node:path';
import { Session } from 'node:inspector';

export function startCpuProfile(thread: string): () => void {
  const dir = process.env.TETCD_CPU_PROFILE_DIR;
  if (!dir) return () => {};
  fs.mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    session.post('Profiler.stop', (err, res) => {
      if (!err && res?.profile) {
        fs.writeFileSync(path.join(dir, `${thread}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
      }
      session.disconnect();
    });
  };
}
