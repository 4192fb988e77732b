// One typed error family for the whole control plane. Every layer throws these;
// the API maps them to HTTP in one place (api/errors.ts) and the CLI maps them to
// exit codes. `retryable` says whether repeating the same call can succeed, so
// controllers and clients decide to back off or give up without string matching.

export interface FieldCause {
  /** Dotted path into the document, e.g. `spec.components[0].resources.cpu`. */
  field: string;
  /** What was expected, in words a user can act on. */
  message: string;
}

export type ErrorReason =
  | 'Invalid'
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'QuotaExceeded'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Expired'
  | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge'
  | 'TooManyRequests'
  | 'Unavailable'
  | 'InternalError';

export interface StatusDetails {
  kind?: string;
  name?: string;
  causes?: FieldCause[];
  retryAfterSeconds?: number;
}

export abstract class YunjianError extends Error {
  abstract readonly reason: ErrorReason;
  abstract readonly httpStatus: number;
  readonly retryable: boolean = false;
  readonly details: StatusDetails;

  constructor(message: string, details: StatusDetails = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

export class ValidationError extends YunjianError {
  readonly reason = 'Invalid';
  readonly httpStatus = 422;
  readonly causes: FieldCause[];
  constructor(subject: string, causes: FieldCause[], details: StatusDetails = {}) {
    const lines = causes.map((c) => `  ${c.field}: ${c.message}`).join('\n');
    super(`${subject} is invalid:\n${lines}`, { ...details, causes });
    this.causes = causes;
  }
}

export class BadRequestError extends YunjianError {
  readonly reason = 'BadRequest';
  readonly httpStatus = 400;
}

export class UnsupportedMediaTypeError extends YunjianError {
  readonly reason = 'UnsupportedMediaType';
  readonly httpStatus = 415;
}

/** The request body is over the server's limit; the message names the limit. */
export class PayloadTooLargeError extends YunjianError {
  readonly reason = 'RequestEntityTooLarge';
  readonly httpStatus = 413;
}

export class UnauthorizedError extends YunjianError {
  readonly reason = 'Unauthorized';
  readonly httpStatus = 401;
}

export class ForbiddenError extends YunjianError {
  readonly reason = 'Forbidden';
  readonly httpStatus = 403;
}

/** A write would take a tenant past its quota; `details.causes` name each quota (`spec.quota.cpu`). */
export class QuotaExceededError extends YunjianError {
  readonly reason = 'QuotaExceeded';
  readonly httpStatus = 403;
}

export class NotFoundError extends YunjianError {
  readonly reason = 'NotFound';
  readonly httpStatus = 404;
}

export class AlreadyExistsError extends YunjianError {
  readonly reason = 'AlreadyExists';
  readonly httpStatus = 409;
}

/** Compare-and-set lost: the caller's resourceVersion is stale. Re-read and retry. */
export class ConflictError extends YunjianError {
  readonly reason = 'Conflict';
  readonly httpStatus = 409;
  override readonly retryable = true;
}

/** A watch asked for a revision that has been compacted away. Re-list, then watch. */
export class ExpiredError extends YunjianError {
  readonly reason = 'Expired';
  readonly httpStatus = 410;
}

export class TooManyRequestsError extends YunjianError {
  readonly reason = 'TooManyRequests';
  readonly httpStatus = 429;
  override readonly retryable = true;
  constructor(message: string, retryAfterSeconds: number, details: StatusDetails = {}) {
    super(message, { ...details, retryAfterSeconds });
  }
}

export class UnavailableError extends YunjianError {
  readonly reason = 'Unavailable';
  readonly httpStatus = 503;
  override readonly retryable = true;
}

export class InternalError extends YunjianError {
  readonly reason = 'InternalError';
  readonly httpStatus = 500;
}

/** The Kubernetes-shaped `Status` body every API error is returned as. */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  status: 'Failure';
  code: number;
  reason: ErrorReason;
  message: string;
  details?: StatusDetails;
}

export function toStatusBody(err: YunjianError): StatusBody {
  const body: StatusBody = {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    code: err.httpStatus,
    reason: err.reason,
    message: err.message,
  };
  if (Object.keys(err.details).length > 0) body.details = err.details;
  return body;
}

const byReason: Record<ErrorReason, (message: string, details: StatusDetails) => YunjianError> = {
  Invalid: (m, d) => {
    const err = new ValidationError('request', d.causes ?? [], d);
    err.message = m;
    return err;
  },
  BadRequest: (m, d) => new BadRequestError(m, d),
  UnsupportedMediaType: (m, d) => new UnsupportedMediaTypeError(m, d),
  RequestEntityTooLarge: (m, d) => new PayloadTooLargeError(m, d),
  Unauthorized: (m, d) => new UnauthorizedError(m, d),
  Forbidden: (m, d) => new ForbiddenError(m, d),
  QuotaExceeded: (m, d) => new QuotaExceededError(m, d),
  NotFound: (m, d) => new NotFoundError(m, d),
  AlreadyExists: (m, d) => new AlreadyExistsError(m, d),
  Conflict: (m, d) => new ConflictError(m, d),
  Expired: (m, d) => new ExpiredError(m, d),
  TooManyRequests: (m, d) => new TooManyRequestsError(m, d.retryAfterSeconds ?? 1, d),
  Unavailable: (m, d) => new UnavailableError(m, d),
  InternalError: (m, d) => new InternalError(m, d),
};

/** Rebuilds the typed error from a `Status` body received over HTTP (used by clients). */
export function fromStatusBody(body: unknown, httpStatus: number): YunjianError {
  if (isStatusBody(body)) return byReason[body.reason](body.message, body.details ?? {});
  if (httpStatus === 401) return new UnauthorizedError('unauthorized');
  return new InternalError(`unexpected HTTP ${httpStatus} response`);
}

/** A JSON response's body; when it is not 2xx, the typed error its `Status` body names. */
export async function readJsonResponse<T>(res: Response): Promise<T> {
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) throw fromStatusBody(parsed, res.status);
  return parsed as T;
}

function isStatusBody(body: unknown): body is StatusBody {
  return (
    typeof body === 'object' &&
    body !== null &&
    (body as { kind?: unknown }).kind === 'Status' &&
    typeof (body as { reason?: unknown }).reason === 'string' &&
    (body as { reason: string }).reason in byReason
  );
}
