// The one place typed errors become HTTP responses. Anything that is not a
// YunjianError is either a Fastify framework error (mapped by its status code)
// or a bug (500 with the detail logged, not leaked).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  BadRequestError,
  InternalError,
  NotFoundError,
  TooManyRequestsError,
  UnsupportedMediaTypeError,
  YunjianError,
  toStatusBody,
} from '../model/errors.ts';

function fromFrameworkError(err: FastifyError): YunjianError {
  const status = err.statusCode ?? 500;
  if (status === 415)
    return new UnsupportedMediaTypeError(
      `${err.message}; send application/json or application/yaml`,
    );
  if (status === 413) return new BadRequestError(`request body too large: ${err.message}`);
  if (status >= 400 && status < 500) return new BadRequestError(err.message);
  return new InternalError('internal error; see the server log');
}

export function toYunjianError(err: unknown): YunjianError {
  if (err instanceof YunjianError) return err;
  if (
    err instanceof Error &&
    typeof (err as FastifyError).code === 'string' &&
    (err as FastifyError).code.startsWith('FST_')
  ) {
    return fromFrameworkError(err as FastifyError);
  }
  if (err instanceof Error && (err as FastifyError).validation !== undefined)
    return new BadRequestError(err.message);
  return new InternalError('internal error; see the server log');
}

export function sendError(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const y = toYunjianError(err);
  if (y instanceof InternalError) request.log.error({ err }, 'request failed');
  if (y instanceof TooManyRequestsError && y.details.retryAfterSeconds !== undefined) {
    void reply.header('retry-after', String(Math.ceil(y.details.retryAfterSeconds)));
  }
  if (y.httpStatus === 401) void reply.header('www-authenticate', 'Bearer realm="yunjian"');
  return reply.code(y.httpStatus).type('application/json').send(toStatusBody(y));
}

export function routeNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(
    new NotFoundError(
      `no route for ${request.method} ${request.url.split('?')[0] ?? ''}; see /openapi.json for the API`,
    ),
    request,
    reply,
  );
}
