// An application bound to three catalog instances (examples/catalog/): it
// reaches Redis, NATS and PostgreSQL only through the env its bindings put in
// it (CACHE_*, BUS_*, DB_*), over raw sockets for Redis (RESP) and NATS (its
// text protocol) and Debian's psql for PostgreSQL. GET /put?value=V writes V
// to all three and reads it back; GET /get reads what /put last wrote to Redis
// and PostgreSQL. Answers JSON; /healthz for health checks.
import { Buffer } from 'node:buffer';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { clearTimeout, setTimeout } from 'node:timers';
import { URL } from 'node:url';

const env = process.env;
const TIMEOUT_MS = 5000;

/** Sends `request` and resolves with what came back once `done(reply)` holds. */
function exchange(host, port, request, done) {
  return new Promise((resolve, reject) => {
    let reply = '';
    const socket = connect(Number(port), host, () => socket.write(request));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete reply from ${host}:${port}: ${JSON.stringify(reply)}`));
    }, TIMEOUT_MS);
    socket.on('data', (d) => {
      reply += d.toString();
      if (done(reply)) {
        clearTimeout(timer);
        socket.end();
        resolve(reply);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

const resp = (...args) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

async function redis(commands) {
  const request = [['AUTH', env.CACHE_PASSWORD ?? ''], ...commands].map((c) => resp(...c)).join('');
  const reply = await exchange(env.CACHE_HOST, env.CACHE_PORT, request, (r) => {
    const lines = r.split('\r\n');
    // Every reply here is +OK, -ERR, or a bulk string ($n then data, or $-1).
    let count = 0;
    for (let i = 0; i < lines.length - 1; i++) {
      const l = lines[i];
      if (l.startsWith('+') || l.startsWith('-') || l === '$-1') count++;
      else if (l.startsWith('$')) {
        count++;
        i++;
      }
    }
    return count >= commands.length + 1;
  });
  if (reply.includes('\r\n-') || reply.startsWith('-')) throw new Error(`redis: ${reply}`);
  const m = /\$\d+\r\n([^\r]*)\r\n$/.exec(reply);
  return m ? m[1] : null;
}

async function nats(value) {
  const n = Buffer.byteLength(value);
  const reply = await exchange(
    env.BUS_HOST,
    env.BUS_PORT,
    `CONNECT {"verbose":false}\r\nSUB check 1\r\nPUB check ${n}\r\n${value}\r\n`,
    (r) => r.includes(`MSG check 1 ${n}\r\n${value}\r\n`),
  );
  return reply.includes(value) ? value : null;
}

function psql(...commands) {
  return new Promise((resolve, reject) =>
    execFile(
      'psql',
      [env.DB_URL ?? '', '-qtA', '-v', 'ON_ERROR_STOP=1', ...commands.flatMap((c) => ['-c', c])],
      { timeout: TIMEOUT_MS },
      (err, stdout, stderr) =>
        err ? reject(new Error(`psql: ${stderr || err.message}`)) : resolve(stdout.trim()),
    ),
  );
}

const quote = (s) => `'${s.replaceAll("'", "''")}'`;

async function put(value) {
  return {
    redis: await redis([
      ['SET', 'catalog-check', value],
      ['GET', 'catalog-check'],
    ]),
    nats: await nats(value),
    postgres: await psql(
      'CREATE TABLE IF NOT EXISTS checks (value text)',
      `INSERT INTO checks VALUES (${quote(value)})`,
      'SELECT value FROM checks ORDER BY ctid DESC LIMIT 1',
    ),
  };
}

async function get() {
  return {
    redis: await redis([['GET', 'catalog-check']]),
    postgres: await psql('SELECT value FROM checks ORDER BY ctid DESC LIMIT 1'),
  };
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const answer = (code, body) =>
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
  if (url.pathname === '/healthz') return answer(200, { ok: true });
  const work =
    url.pathname === '/put'
      ? put(url.searchParams.get('value') ?? '')
      : url.pathname === '/get'
        ? get()
        : undefined;
  if (work === undefined) return answer(404, { error: 'GET /put?value=V or /get' });
  work.then(
    (body) => answer(200, body),
    (err) => answer(502, { error: err instanceof Error ? err.message : String(err) }),
  );
});
server.listen(Number(env.PORT ?? '8080'), env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
