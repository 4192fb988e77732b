// Real etcd clusters for the etcd store tests, through scripts/etcd.sh: each
// cluster lives in its own temp dir on loopback ports, and `stop` ends only the
// members the script started there. Without etcd the tests are skipped, except
// under CI=true, where a missing etcd fails them.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, '../scripts/etcd.sh');
const ETCD = process.env['ETCD_BIN'] ?? '/usr/bin/etcd';

/** Why etcd cannot run here; throws under CI=true, where it must. */
export function etcdMissing(): string | undefined {
  const missing = existsSync(ETCD) ? undefined : `${ETCD} is missing (apt-get install etcd-server)`;
  if (missing !== undefined && process.env['CI'] === 'true')
    throw new Error(`CI must install etcd-server (.ci/run): ${missing}`);
  return missing;
}

export class EtcdCluster {
  readonly dir: string;
  readonly endpoints: string[];

  private constructor(dir: string, endpoints: string[]) {
    this.dir = dir;
    this.endpoints = endpoints;
  }

  /**
   * Starts a cluster; a start that fails (a port taken between the script's
   * check and etcd's bind by another test's server) is tried once more on
   * fresh ports. The members' logs go into the error of a start that fails twice.
   */
  static async start(members: number): Promise<EtcdCluster> {
    for (let attempt = 1; ; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'yunjian-etcd-'));
      try {
        const { stdout } = await run(SCRIPT, ['start', dir, '--members', String(members)], {
          timeout: 60_000,
        });
        return new EtcdCluster(dir, stdout.trim().split(','));
      } catch (err) {
        const logs = memberLogs(dir);
        await run(SCRIPT, ['stop', dir], { timeout: 30_000 }).catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
        if (attempt >= 2) throw new Error(`etcd did not start twice:\n${logs}`, { cause: err });
      }
    }
  }

  /** `etcd://` URL of every member. */
  get url(): string {
    return `etcd://${this.endpoints.join(',')}`;
  }

  /** kill -9 member `i` (1-based); its data stays for `startMember`. */
  async stopMember(i: number): Promise<void> {
    await run(SCRIPT, ['stop-member', this.dir, String(i)], { timeout: 30_000 });
  }

  async startMember(i: number): Promise<void> {
    await run(SCRIPT, ['start-member', this.dir, String(i)], { timeout: 30_000 });
  }

  async stop(): Promise<void> {
    await run(SCRIPT, ['stop', this.dir], { timeout: 30_000 });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The last lines of each member's log in `dir`. */
function memberLogs(dir: string): string {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^m\d+\.log$/.test(f)) : [];
  return files
    .map((f) => `${f}:\n${readFileSync(join(dir, f), 'utf8').split('\n').slice(-15).join('\n')}`)
    .join('\n');
}
