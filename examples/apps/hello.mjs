// A tiny HTTP replica for agent clusters: listens on $HOST:$PORT (the agent
// allocates them), answers every request with who it is, logs each request to
// stdout (shown by `yunjian logs`) and serves /healthz for health checks.
// With HELLO_FAIL_FILE set, every request but /healthz answers 500 while that
// file exists: a bad release that still passes its health check.
// Plain JavaScript so any Node can run it: command ["node", "examples/apps/hello.mjs"].
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? '8080');
const name = process.env.COMPONENT ?? 'hello';
const replica = process.env.YUNJIAN_REPLICA ?? String(process.pid);
const failFile = process.env.HELLO_FAIL_FILE;

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  if (failFile !== undefined && existsSync(failFile)) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end('failing on purpose\n');
    return;
  }
  console.log(
    `${new Date().toISOString()} ${req.method} ${req.url} from ${req.socket.remoteAddress}`,
  );
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ component: name, replica, pid: process.pid, host, port }) + '\n');
});
server.listen(port, host, () =>
  console.log(`${name} replica ${replica} listening on ${host}:${port}`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
