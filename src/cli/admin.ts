// Admin requests to the control plane outside YunjianClient's resource API
// (agent tokens, replica logs, Kubernetes joins), with the CLI's usual
// server/token resolution.
import type { Command } from 'commander';
import { readJsonResponse } from '../model/errors.ts';
import { loadConnection } from './config.ts';
import { ServerUnreachableError } from './errors.ts';
import type { CliIo } from './program.ts';

interface Globals {
  server?: string;
  token?: string;
}

export async function adminCall<T>(
  io: CliIo,
  cmd: Command,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const { server, token } = cmd.optsWithGlobals<Globals>();
  const conn = await loadConnection({ server, token }, io.env, io.home);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (conn.token !== undefined) headers['authorization'] = `Bearer ${conn.token.value}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await (io.fetch ?? fetch)(conn.server.value + path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new ServerUnreachableError(conn.server.value, err);
  }
  return readJsonResponse<T>(res);
}
