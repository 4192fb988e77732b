// One health check of a replica: an HTTP(S) GET that answers 2xx or 3xx, else
// a TCP connect, to the replica's own port on the agent's address. The
// declared port named by the check (or the first) maps to the port allocated to
// this replica. HTTPS certificates are not verified: the check asks only
// whether the replica answers.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createConnection } from 'node:net';
import type { WorkloadResourceSpec } from '../model/schema.ts';

/** Whether the replica listening on `ports` (allocated per declared port) passes its check. */
export function checkHealth(
  address: string,
  spec: WorkloadResourceSpec,
  ports: readonly number[],
  timeoutMs: number,
): Promise<boolean> {
  const hc = spec.healthCheck;
  const portFor = (declared: number | undefined) => {
    const i = declared === undefined ? 0 : spec.ports.findIndex((p) => p.port === declared);
    return ports[Math.max(0, i)] ?? ports[0] ?? 0;
  };
  if (hc?.http !== undefined) {
    const http = hc.http;
    const request = http.scheme === 'HTTPS' ? httpsRequest : httpRequest;
    return new Promise<boolean>((resolve) => {
      const req = request(
        {
          host: address,
          port: portFor(http.port),
          path: http.path,
          timeout: timeoutMs,
          rejectUnauthorized: false,
        },
        (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(code >= 200 && code < 400);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false));
      req.end();
    });
  }
  return new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: address, port: portFor(hc?.tcp?.port) });
    socket.setTimeout(timeoutMs);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
