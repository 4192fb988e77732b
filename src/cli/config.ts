// Where the CLI finds its server and token, and where a local server keeps its
// data. Precedence for each setting, highest first: flag, environment
// (YUNJIAN_SERVER / YUNJIAN_TOKEN), config file, default. The default token is
// the admin token a local `yunjian server` wrote, so a laptop setup needs no
// configuration at all.
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import YAML from 'yaml';
import { splitServers } from '../lib/servers.ts';
import { UsageError } from './errors.ts';

export const DEFAULT_SERVER = 'http://localhost:7080';
export const ADMIN_TOKEN_FILE = 'admin.token';

export type Env = Readonly<Record<string, string | undefined>>;

/** An empty variable counts as unset, as `YUNJIAN_TOKEN= yunjian get ...` means "no token". */
function envValue(env: Env, key: string): string | undefined {
  const v = env[key];
  return v === undefined || v === '' ? undefined : v;
}

/** XDG base directories must be absolute; the spec says to ignore relative ones. */
function xdgDir(env: Env, key: string, fallback: string): string {
  const v = envValue(env, key);
  return v !== undefined && isAbsolute(v) ? v : fallback;
}

/** `$YUNJIAN_DATA_DIR`, else `$XDG_DATA_HOME/yunjian`, else `~/.local/share/yunjian`. */
export function defaultDataDir(env: Env = process.env, home: string = homedir()): string {
  return (
    envValue(env, 'YUNJIAN_DATA_DIR') ??
    join(xdgDir(env, 'XDG_DATA_HOME', join(home, '.local', 'share')), 'yunjian')
  );
}

/** `$XDG_CONFIG_HOME/yunjian/config.yaml`, else `~/.config/yunjian/config.yaml`. */
export function configFilePath(env: Env, home: string): string {
  return join(xdgDir(env, 'XDG_CONFIG_HOME', join(home, '.config')), 'yunjian', 'config.yaml');
}

export interface ConfigFile {
  server?: string;
  token?: string;
}

export const CONFIG_KEYS = ['server', 'token'] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

function isConfigKey(key: string): key is ConfigKey {
  return (CONFIG_KEYS as readonly string[]).includes(key);
}

/** A missing file is an empty config; a malformed one is an error that names the file. */
export async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new UsageError(`cannot parse config file ${path}: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UsageError(`config file ${path} must be a mapping with the keys server and token`);
  }
  const config: ConfigFile = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!isConfigKey(key))
      throw new UsageError(
        `config file ${path}: unknown key "${key}" (known: ${CONFIG_KEYS.join(', ')})`,
      );
    if (typeof value !== 'string')
      throw new UsageError(`config file ${path}: ${key} must be a string`);
    config[key] = value;
  }
  return config;
}

/**
 * Writes through a temporary file and a rename so a crash never leaves a
 * half-written config, and creates it 0600 because it holds a bearer token.
 */
export async function writeConfigFile(path: string, config: ConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, YAML.stringify(config), { mode: 0o600 });
  await chmod(tmp, 0o600); // the mode above is masked by umask and ignored for an existing file
  await rename(tmp, path);
}

export interface Setting {
  value: string;
  /** Where the value came from, in words shown by `config view` and in error advice. */
  source: string;
}

export interface Connection {
  server: Setting;
  token: Setting | undefined;
}

export interface ConnectionInputs {
  flags: { server?: string | undefined; token?: string | undefined };
  env: Env;
  file: ConfigFile;
  filePath: string;
  /** Consulted only when nothing else gives a token. */
  defaultToken: () => Setting | undefined;
}

export function resolveConnection(inputs: ConnectionInputs): Connection {
  const { flags, env, file, filePath } = inputs;
  const pick = (
    flag: string | undefined,
    flagName: string,
    envName: string,
    fileValue: string | undefined,
  ): Setting | undefined => {
    if (flag !== undefined && flag !== '') return { value: flag, source: `${flagName} flag` };
    const fromEnv = envValue(env, envName);
    if (fromEnv !== undefined) return { value: fromEnv, source: envName };
    if (fileValue !== undefined && fileValue !== '') return { value: fileValue, source: filePath };
    return undefined;
  };
  const server = pick(flags.server, '--server', 'YUNJIAN_SERVER', file.server) ?? {
    value: DEFAULT_SERVER,
    source: 'default',
  };
  const token = pick(flags.token, '--token', 'YUNJIAN_TOKEN', file.token) ?? inputs.defaultToken();
  return {
    server: { value: normalizeServerUrl(server.value, server.source), source: server.source },
    token,
  };
}

/**
 * Accepts `http(s)://host[:port][/prefix]`, or several separated by commas
 * (replicas of one control plane); drops trailing slashes so paths join cleanly.
 */
export function normalizeServerUrl(value: string, source: string): string {
  const servers = splitServers(value);
  if (servers.length === 0)
    throw new UsageError(`invalid server URL "" (from ${source}): expected http://HOST:PORT`);
  return servers.map((s) => normalizeOneServerUrl(s, source)).join(',');
}

function normalizeOneServerUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `invalid server URL ${JSON.stringify(value)} (from ${source}): expected http://HOST:PORT`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      `invalid server URL ${JSON.stringify(value)} (from ${source}): expected an http:// or https:// URL`,
    );
  }
  return url.href.replace(/\/+$/, '');
}

/** The admin token of a local server, if one has written it and it is readable. */
export function readAdminToken(dataDir: string): Setting | undefined {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  try {
    const value = readFileSync(path, 'utf8').trim();
    return value === '' ? undefined : { value, source: path };
  } catch {
    return undefined;
  }
}

export async function loadConnection(
  flags: ConnectionInputs['flags'],
  env: Env,
  home: string,
): Promise<Connection> {
  const filePath = configFilePath(env, home);
  const file = await readConfigFile(filePath);
  return resolveConnection({
    flags,
    env,
    file,
    filePath,
    defaultToken: () => readAdminToken(defaultDataDir(env, home)),
  });
}
