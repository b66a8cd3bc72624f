// Free TCP ports on 127.0.0.1. The peers take a port number on their command line (etcd and the
// API server have no "port 0 then report it"), so the port is found by binding it here first.
// Another process could grab it in between; the OS hands out ephemeral ports in rotation, so
// that window is tiny in practice.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port from listen'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
