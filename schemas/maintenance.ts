// zod schemas of the Maintenance service's JSON requests. StatusRequest and HashRequest have no
// fields: any JSON object (or an empty body) is accepted and extra fields are ignored, as etcd's
// gateway does; a body that is not an object fails with jsonpb's text. HashKVRequest has one
// int64, `revision` (0 or absent: the current revision).

import { z } from 'zod';
import { int64, message } from './jsonpb.js';

export const StatusRequestJson = message({});
export type StatusRequestJson = z.output<typeof StatusRequestJson>;

export const HashRequestJson = message({});
export type HashRequestJson = z.output<typeof HashRequestJson>;

export const HashKVRequestJson = message({
  revision: int64, // 1
});
export type HashKVRequestJson = z.output<typeof HashKVRequestJson>;
