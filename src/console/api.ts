// The console's only door to the server: same-origin fetches that carry the
// HttpOnly session cookie and the header the server requires on session
// requests that change state (api/auth.ts). Non-2xx answers become ApiError
// with the server's Status body, so views can show `details.causes`.

export const API = '/api/v1alpha1';
const SESSION = '/console/session';
const CSRF = { 'x-yunjian-csrf': '1' };

export interface FieldCause {
  field: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly causes: FieldCause[];

  constructor(status: number, reason: string, message: string, causes: FieldCause[] = []) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.causes = causes;
  }
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();

/** Called when any request finds the session gone (expired, server restarted). */
export function onSignedOut(fn: Listener): () => void {
  signedOutListeners.add(fn);
  return () => signedOutListeners.delete(fn);
}

async function toError(res: Response): Promise<ApiError> {
  let body: { reason?: string; message?: string; details?: { causes?: FieldCause[] } } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // Not a Status body (a proxy's error page): the HTTP status says enough.
  }
  return new ApiError(
    res.status,
    body.reason ?? res.statusText,
    body.message ?? `${res.status} ${res.statusText}`,
    body.details?.causes ?? [],
  );
}

export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, {
    ...init,
    credentials: 'same-origin',
    headers: { accept: 'application/json', ...CSRF, ...(init.headers ?? {}) },
  });
  if (res.ok) return res;
  const err = await toError(res);
  if (res.status === 401 && path !== SESSION) for (const fn of signedOutListeners) fn();
  throw err;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await request(path, signal ? { signal } : {});
  return (await res.json()) as T;
}

export async function applyYaml(yaml: string, dryRun: boolean): Promise<ApplyResult> {
  const res = await request(`${API}/apply${dryRun ? '?dryRun=true' : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/yaml' },
    body: yaml,
  });
  return (await res.json()) as ApplyResult;
}

export interface ApplyResult {
  items: { kind: string; name: string; namespace?: string; action: string }[];
}

export interface SessionInfo {
  user: string;
  expires: string;
}

export async function currentSession(): Promise<SessionInfo | undefined> {
  try {
    return await getJson<SessionInfo>(SESSION);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return undefined;
    throw err;
  }
}

/** Signs in with a one-time code (`yjc_`, from a sign-in link) or the user's own token. */
export async function signIn(secret: string): Promise<SessionInfo> {
  const res = await request(SESSION, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(secret.startsWith('yjc_') ? { code: secret } : { token: secret }),
  });
  return (await res.json()) as SessionInfo;
}

export async function signOut(): Promise<void> {
  await request(SESSION, { method: 'DELETE' });
}
