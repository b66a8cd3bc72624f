// A stdout that fails (here /dev/full: every write is refused with ENOSPC, as on a full disk)
// does not crash the process with an unhandled 'error' event: `serve` still ends with its own
// exit code and says why on stderr (src/main.ts). A subprocess of src/main.ts on the tests' Node.
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

t.test('serve with a failing stdout and a port in use: exit 1 with the reason, no crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stdout-failure-'));
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, 'mode: enforce\nregistries:\n  allow: ["registry.k8s.io/*"]\n');
  // The port is taken, so `serve` fails after it has printed (the serving CA) and logged.
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const { port } = taken.address() as AddressInfo;
  const full = openSync('/dev/full', 'w');
  t.teardown(() => closeSync(full));
  const child = spawn(process.execPath, [MAIN, 'serve', '--config', policy, '--port', String(port), '--health-port', '0', '--host', '127.0.0.1'], {
    stdio: ['ignore', full, 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: dir, AWS_EC2_METADATA_DISABLED: 'true' },
  });
  const err: Buffer[] = [];
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const stderr = Buffer.concat(err).toString('utf8');
  t.equal(code, 1, `serve's own exit code (stderr: ${stderr.slice(0, 300)})`);
  t.match(stderr, /stdout failed, nothing more is printed there: ENOSPC/, 'the failing stdout is said once');
  t.match(stderr, /EADDRINUSE/, 'and the reason serve stopped');
  t.notMatch(stderr, /Unhandled 'error' event/, 'not a crash');
});
