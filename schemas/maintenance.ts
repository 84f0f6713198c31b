// zod schemas of the Maintenance service's JSON requests. StatusRequest has no fields: any JSON
// object (or an empty body) is accepted and extra fields are ignored, as etcd's gateway does; a
// body that is not an object fails with jsonpb's text.

import { z } from 'zod';
import { message } from './jsonpb.js';

export const StatusRequestJson = message({});
export type StatusRequestJson = z.output<typeof StatusRequestJson>;
