// A single-member etcd on 127.0.0.1 with random client and peer ports, the API server's store.
import { join } from 'node:path';
import { rigBinDir } from './bin-dir.ts';
import { freePort } from './ports.ts';
import { startPeer, waitUntilReady } from './process.ts';

export interface RigEtcd {
  /** Client URL, http://127.0.0.1:PORT, for --etcd-servers. */
  url: string;
  pid: number;
  logPath: string;
  stop(): Promise<void>;
}

export async function startEtcd(dir: string): Promise<RigEtcd> {
  const bin = await rigBinDir();
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const peer = startPeer({
    name: 'etcd',
    command: join(bin, 'etcd'),
    dir,
    args: [
      '--name=rig',
      `--data-dir=${join(dir, 'etcd-data')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=rig=${peerUrl}`,
      '--initial-cluster-state=new',
      // Test data is thrown away: skipping fsync makes every API write much faster.
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
  });
  await waitUntilReady(
    peer,
    async () => {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      const body = (await response.json()) as { health?: string };
      return response.ok && body.health === 'true';
    },
    30_000,
  );
  return { url, pid: peer.pid, logPath: peer.logPath, stop: () => peer.stop() };
}
