// Ports for servers this process is about to start (an agent's replicas, the
// benchmarks' control planes and apps): the kernel picks a free one for a
// listener that is closed at once. Another process may take it before it is
// used; that is the price of handing a port to a process we do not control.
import { createServer } from 'node:net';

/** A TCP port free on `address` at the time of the call. */
export async function allocatePort(address = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port: 0, exclusive: true }, resolve);
  });
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port allocated');
  return addr.port;
}

/** Whether an IP address or URL host name stays on this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || isLoopbackAddress(h);
}

/** Whether a socket's IP address is a loopback one (127.0.0.0/8, ::1, or 127/8 mapped into IPv6). */
export function isLoopbackAddress(address: string | undefined): boolean {
  return (
    address !== undefined &&
    (address === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(address))
  );
}
