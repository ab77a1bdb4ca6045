// Free loopback ports for processes that must be told their port up front
// (etcd, kube-apiserver, Prometheus). The port is free when this returns; a
// process that loses the race to another one fails to bind and says so in its
// log, which the harness turns into a retry.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not find a free loopback port'));
      });
    });
  });
}
