// Test clients for the lease keep-alive stream, in both of etcd's forms: a POST whose body stays
// open (one LeaseKeepAliveRequest written per renewal, `{"result": ...}` lines back), and a
// WebSocket (one request per frame, one answer per frame). Both are bounded by the caller's
// waits and closed in `t.after`.
import http from 'node:http';
import { WebSocket } from 'ws';

export interface KeepAliveResult {
  header: { revision: string };
  ID?: string;
  TTL?: string;
}

export interface KeepAliveConn {
  /** Every answer line/frame parsed: `{"result": ...}` or an error object. */
  readonly answers: Array<{ result?: KeepAliveResult; error?: unknown }>;
  /** HTTP status (POST form), once the head arrived. */
  readonly status: number | undefined;
  readonly ended: boolean;
  send(id: bigint | string): void;
  /** Ends the request body (POST) or closes the socket (WebSocket). */
  end(): void;
  close(): void;
}

export function openHttpKeepAlive(url: string): KeepAliveConn {
  const answers: KeepAliveConn['answers'] = [];
  let status: number | undefined;
  let ended = false;
  const req = http.request(`${url}/v3/lease/keepalive`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
    status = res.statusCode;
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() !== '') answers.push(JSON.parse(line) as KeepAliveConn['answers'][number]);
      }
    });
    res.on('end', () => {
      if (buf.trim() !== '') answers.push(JSON.parse(buf) as KeepAliveConn['answers'][number]);
      ended = true;
    });
    res.on('close', () => { ended = true; });
  });
  req.on('error', () => { ended = true; });
  req.flushHeaders();
  return {
    answers,
    get status() { return status; },
    get ended() { return ended; },
    send(id) { req.write(`{"ID":"${id}"}\n`); },
    end() { req.end(); },
    close() { req.destroy(); ended = true; },
  };
}

export function openWsKeepAlive(url: string): KeepAliveConn {
  const answers: KeepAliveConn['answers'] = [];
  let ended = false;
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v3/lease/keepalive`);
  const queued: string[] = [];
  ws.on('open', () => { for (const q of queued.splice(0)) ws.send(q); });
  ws.on('message', (data) => { answers.push(JSON.parse(data.toString()) as KeepAliveConn['answers'][number]); });
  ws.on('close', () => { ended = true; });
  ws.on('error', () => { ended = true; });
  return {
    answers,
    status: undefined,
    get ended() { return ended; },
    send(id) {
      const text = `{"ID":"${id}"}`;
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
      else queued.push(text);
    },
    end() { ws.close(1000); },
    close() { ws.terminate(); ended = true; },
  };
}
