// olareg: an OCI registry with the referrers API (on by default), plain HTTP on 127.0.0.1.
import { join } from 'node:path';
import { rigBinDir } from './bin-dir.ts';
import { freePort } from './ports.ts';
import { startPeer, waitUntilReady } from './process.ts';

export interface RigOlareg {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, the registry part of image references. */
  host: string;
  pid: number;
  logPath: string;
  stop(): Promise<void>;
}

export interface StartOlaregOptions {
  /** Folder for the log (and the blobs with storage "dir"). */
  dir: string;
  /** "mem" (default) keeps nothing after stop; "dir" stores under dir/olareg-store. */
  storage?: 'mem' | 'dir';
  /** Enables the manifest/tag DELETE APIs (off by default, as in olareg). */
  allowDelete?: boolean;
}

export async function startOlareg(opts: StartOlaregOptions): Promise<RigOlareg> {
  const bin = await rigBinDir();
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const peer = startPeer({
    name: 'olareg',
    command: join(bin, 'olareg'),
    dir: opts.dir,
    args: [
      'serve',
      '--addr=127.0.0.1',
      `--port=${port}`,
      `--store-type=${opts.storage ?? 'mem'}`,
      `--dir=${join(opts.dir, 'olareg-store')}`,
      `--api-delete=${opts.allowDelete === true}`,
      '--verbosity=info',
    ],
  });
  await waitUntilReady(peer, async () => (await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) })).status === 200, 30_000);
  return { url, host, pid: peer.pid, logPath: peer.logPath, stop: () => peer.stop() };
}
