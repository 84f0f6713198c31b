// Logging: one pino logger per thread, tagged with the actor's name (and the member's name once
// clusters exist), written synchronously to stderr like etcd's logs. Synchronous on purpose: a
// fatal line must reach the terminal before the process exits.

import pino from 'pino';
import type { Logger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export function createActorLogger(level: LogLevel, actor: string, member?: string): Logger {
  const base = member === undefined ? { actor } : { member, actor };
  return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}
