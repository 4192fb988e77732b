// The command line both simulated months take: the server, its admin token
// (the local server's by default) and how many days to simulate.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export interface MonthArgs {
  server: string;
  token: string;
  days: number;
}

/** The parsed arguments, or undefined after saying on stderr what is wrong. */
export function monthArgs(minDays: number, maxDays = 62): MonthArgs | undefined {
  const { values } = parseArgs({
    options: {
      server: { type: 'string', default: 'http://localhost:7080' },
      token: { type: 'string' },
      days: { type: 'string', default: '30' },
    },
  });
  const days = Number(values.days);
  if (!Number.isInteger(days) || days < minDays || days > maxDays) {
    process.stderr.write(
      `--days: expected an integer from ${minDays} to ${maxDays}, got "${values.days}"\n`,
    );
    return undefined;
  }
  const token =
    values.token ??
    readFileSync(join(homedir(), '.local', 'share', 'yunjian', 'admin.token'), 'utf8').trim();
  return { server: values.server, token, days };
}
