// The one place typed errors become HTTP responses. Anything that is not a
// YunjianError is either a Fastify framework error (mapped by its status code)
// or a bug (500 with the detail logged, not leaked).
//
// Every 5xx is logged, whatever the Fastify logger says, under an error id
// that the response's message carries too, so an operator can find the log
// line a client reports.
import { randomBytes } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  BadRequestError,
  InternalError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnsupportedMediaTypeError,
  YunjianError,
  toStatusBody,
} from '../model/errors.ts';

/** Where the API writes its log lines (5xx errors). */
export type ApiLog = (line: string) => void;

function fromFrameworkError(err: FastifyError, bodyLimitBytes: number): YunjianError {
  const status = err.statusCode ?? 500;
  if (status === 415)
    return new UnsupportedMediaTypeError(
      `${err.message}; send application/json or application/yaml`,
    );
  if (status === 413)
    return new PayloadTooLargeError(
      `request body too large: at most ${bodyLimitBytes} bytes are accepted`,
    );
  // A path parameter over the router's limit: no object has such a name.
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return new BadRequestError(
      'a name or namespace in the path is longer than any object name can be',
    );
  if (status >= 400 && status < 500) return new BadRequestError(err.message);
  return new InternalError('internal error');
}

/** The typed error for anything thrown while serving a request. */
function toYunjianError(err: unknown, bodyLimitBytes: number): YunjianError {
  if (err instanceof YunjianError) return err;
  if (
    err instanceof Error &&
    typeof (err as FastifyError).code === 'string' &&
    (err as FastifyError).code.startsWith('FST_')
  ) {
    return fromFrameworkError(err as FastifyError, bodyLimitBytes);
  }
  if (err instanceof Error && (err as FastifyError).validation !== undefined)
    return new BadRequestError(err.message);
  return new InternalError('internal error');
}

/**
 * The error as it leaves the server: a 5xx is logged with a fresh error id
 * (the stack of an unexpected error included) and its message gets that id.
 */
export function reportError(
  err: unknown,
  what: string,
  log: ApiLog,
  bodyLimitBytes = 0,
): YunjianError {
  const y = toYunjianError(err, bodyLimitBytes);
  if (y.httpStatus < 500) return y;
  const id = randomBytes(6).toString('hex');
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  log(`error ${id}: ${what}: ${y.httpStatus} ${y.reason}: ${detail}`);
  y.message = `${y.message} (error id ${id}; the server log has the details)`;
  return y;
}

export interface SendErrorOptions {
  log: ApiLog;
  bodyLimitBytes: number;
}

export function sendError(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  options: SendErrorOptions,
): FastifyReply {
  const what = `${request.method} ${request.url.split('?')[0] ?? ''}`;
  const y = reportError(err, what, options.log, options.bodyLimitBytes);
  if (y instanceof TooManyRequestsError && y.details.retryAfterSeconds !== undefined) {
    void reply.header('retry-after', String(Math.ceil(y.details.retryAfterSeconds)));
  }
  if (y.httpStatus === 401) void reply.header('www-authenticate', 'Bearer realm="yunjian"');
  return reply.code(y.httpStatus).type('application/json').send(toStatusBody(y));
}

export function routeNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const err = new NotFoundError(
    `no route for ${request.method} ${request.url.split('?')[0] ?? ''}; see /openapi.json for the API`,
  );
  return reply.code(err.httpStatus).type('application/json').send(toStatusBody(err));
}
