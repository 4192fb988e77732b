// Active health checks: HTTP, HTTPS and TCP probes run from several vantage
// points, each with its own up/down thresholds, combined by a quorum so one
// partitioned prober cannot take a healthy endpoint out of the answers.
//
// An endpoint is DOWN when at least a majority (floor(n/2) + 1) of the n
// vantage points see it down; with two vantage points both must agree. A new
// endpoint starts UP (answers flow at once, as in Route 53), and each vantage
// point flips after `unhealthyThreshold` consecutive failures or
// `healthyThreshold` consecutive successes.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, isIPv4 } from 'node:net';
import { isLoopbackAddress } from '../lib/net.ts';

export interface VantagePoint {
  name: string;
  /**
   * Source address the probes are sent from. Used only for destinations of the
   * same family and scope (a loopback source only toward loopback), so one
   * vantage point list works for local and remote endpoints.
   */
  localAddress?: string;
}

export interface ProbeTarget {
  address: string;
  port: number;
}

export interface ProbeCheck {
  kind: 'http' | 'https' | 'tcp';
  path: string;
  timeoutMs: number;
}

export interface ProbeResult {
  ok: boolean;
  ms: number;
  error?: string;
}

function sourceFor(vp: VantagePoint, target: ProbeTarget): string | undefined {
  const src = vp.localAddress;
  if (src === undefined) return undefined;
  if (isIPv4(src) !== isIPv4(target.address)) return undefined;
  return isLoopbackAddress(src) === isLoopbackAddress(target.address) ? src : undefined;
}

/** One probe; never rejects. HTTP(S) is healthy on 2xx/3xx; certificates are not verified (as Route 53 does). */
export function probe(
  vp: VantagePoint,
  target: ProbeTarget,
  check: ProbeCheck,
): Promise<ProbeResult> {
  const start = performance.now();
  const localAddress = sourceFor(vp, target);
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, ms: performance.now() - start, ...(error !== undefined ? { error } : {}) });
    };
    const timer = setTimeout(() => {
      finish(false, `timeout after ${check.timeoutMs} ms`);
      abort();
    }, check.timeoutMs);
    let abort = () => {};
    if (check.kind === 'tcp') {
      const sock = connect({
        host: target.address,
        port: target.port,
        ...(localAddress !== undefined ? { localAddress } : {}),
      });
      abort = () => sock.destroy();
      sock.once('connect', () => {
        sock.destroy();
        finish(true);
      });
      sock.once('error', (err) => finish(false, err.message));
      return;
    }
    const req = (check.kind === 'https' ? httpsRequest : httpRequest)({
      host: target.address,
      port: target.port,
      path: check.path,
      method: 'GET',
      agent: false,
      headers: { 'user-agent': `yunjian-health/${vp.name}`, connection: 'close' },
      ...(localAddress !== undefined ? { localAddress } : {}),
      ...(check.kind === 'https' ? { rejectUnauthorized: false } : {}),
    });
    abort = () => req.destroy();
    req.once('response', (res) => {
      const code = res.statusCode ?? 0;
      res.resume();
      finish(code >= 200 && code < 400, code >= 400 || code < 200 ? `HTTP ${code}` : undefined);
      req.destroy();
    });
    req.once('error', (err) => finish(false, err.message));
    req.end();
  });
}

export type HealthState = 'up' | 'down';

export interface VantageHealth {
  state: HealthState;
  consecutive: number;
  lastResult?: ProbeResult;
  lastProbeAt?: number;
  /** When the state last changed (ms since the epoch). */
  since: number;
}

export interface Thresholds {
  healthy: number;
  unhealthy: number;
}

/** Health of one endpoint as seen from every vantage point, and the quorum verdict. */
export class EndpointHealth {
  readonly byVantage = new Map<string, VantageHealth>();
  state: HealthState = 'up';
  since: number;
  readonly #vantages: readonly string[];

  constructor(vantages: readonly string[], now: number) {
    this.#vantages = vantages;
    this.since = now;
    for (const v of vantages) this.byVantage.set(v, { state: 'up', consecutive: 0, since: now });
  }

  /** Records one probe result; returns the new overall state when it changed. */
  record(
    vantage: string,
    result: ProbeResult,
    t: Thresholds,
    now: number,
  ): HealthState | undefined {
    const vh = this.byVantage.get(vantage);
    if (vh === undefined) return undefined;
    vh.lastResult = result;
    vh.lastProbeAt = now;
    const agrees = (vh.state === 'up') === result.ok;
    if (agrees) {
      vh.consecutive = 0;
    } else {
      vh.consecutive += 1;
      if (vh.consecutive >= (result.ok ? t.healthy : t.unhealthy)) {
        vh.state = result.ok ? 'up' : 'down';
        vh.consecutive = 0;
        vh.since = now;
      }
    }
    const down = [...this.byVantage.values()].filter((v) => v.state === 'down').length;
    const quorum = Math.floor(this.#vantages.length / 2) + 1;
    const next: HealthState = down >= quorum ? 'down' : 'up';
    if (next === this.state) return undefined;
    this.state = next;
    this.since = now;
    return next;
  }
}
