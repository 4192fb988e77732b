// The entries in /openapi.json of the web console's routes (api/console.ts):
// its page and files, the browser session, sign-in codes and the merged watch.
import type { RouteDoc } from '../openapi.ts';

const tags = ['Console'];
const signedIn = { '401': 'Unauthorized: not signed in' };

export const CONSOLE_DOCS = {
  page: {
    tags,
    summary: 'The web console',
    response: {
      status: 200,
      description: 'HTML',
      schema: { type: 'string' },
      contentType: 'text/html',
    },
  },
  asset: {
    tags,
    summary: 'A file of the web console (content-hashed name)',
    response: { status: 200, description: 'The file' },
    errors: { '404': 'NotFound' },
  },
  session: {
    tags,
    summary: 'Who the browser is signed in as',
    response: { status: 200, description: '{user, expires}' },
    errors: signedIn,
  },
  signIn: {
    tags,
    summary: 'Sign the browser in: a sign-in code or a token for an HttpOnly session cookie',
    body: { type: 'object', description: '{code} or {token}' },
    response: { status: 201, description: '{user, expires}; the cookie is set' },
    errors: { '400': 'BadRequest', '401': 'Unauthorized: the code or token is not valid' },
  },
  signOut: {
    tags,
    summary: 'Sign the browser out',
    response: { status: 200, description: '{user: null}; the cookie is cleared' },
  },
  codes: {
    tags,
    summary: 'A fresh one-time sign-in link for the caller (yunjian console)',
    response: { status: 201, description: '{code, path, expires}' },
  },
  watch: {
    tags,
    summary:
      'Watch several kinds on one stream: ?PLURAL=RESOURCEVERSION per kind, newline-delimited events',
    response: { status: 200, description: 'Watch events; an ERROR line names its kind' },
    errors: { '400': 'BadRequest: no kind, or one that cannot be watched' },
  },
} satisfies Record<string, RouteDoc>;
