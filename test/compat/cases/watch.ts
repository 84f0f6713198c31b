// Watch cases over the HTTP stream (`POST /v3/watch`, newline-delimited `{"result": ...}`): the
// created response, events for puts and deletes with prev_kv, catch-up from a past revision, and
// a prefix watch. Not yet in kv.test.ts: tetcd's watch is a later issue, which adds a
// watch.test.ts running these the way kv.test.ts runs the KV groups.

import { b64, del, prefixEnd, put, type CompatCase, type Json, type Step } from '../model.js';

const open = (stream: string, create: { [key: string]: Json }): Step =>
  ({ kind: 'stream-open', stream, path: '/v3/watch', body: { create_request: create } });
const read = (stream: string, count: number): Step => ({ kind: 'stream-read', stream, count });

export const watchCases: CompatCase[] = [
  {
    name: 'created, then put and delete events with prev_kv',
    steps: [
      put('w/a', '0'),
      open('s', { key: b64('w/a'), prev_kv: true }), read('s', 1),
      put('w/a', '1'), put('w/a', '2'), del('w/a'), read('s', 3),
    ],
  },
  {
    name: 'catch-up from a past revision over a prefix',
    steps: [open('p', { key: b64('w/'), range_end: prefixEnd('w/'), start_revision: '2' }), read('p', 2)],
  },
];
