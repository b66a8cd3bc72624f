// The product build (`npm run build`, what the container image carries) holds the webhook,
// serve and check and what they import, never the development support of src/dev/ (the AWS
// sandbox, the demo, test signing chains): compiled for real into a temporary folder, then run.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

t.test('npm run build compiles the product without src/dev/, and the product refuses the dev commands', async (t) => {
  // Inside the checkout (under node_modules/.cache), so the built files resolve the installed
  // packages the way dist/ does.
  const cache = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, 'ecr-admission-build-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  execFileSync(process.execPath, [TSC, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], { cwd: ROOT, stdio: 'pipe' });
  const files = filesUnder(out).map((f) => relative(out, f));
  t.ok(files.includes('main.js'), 'the entry is built');
  t.ok(files.includes(join('cli', 'serve.js')) && files.includes(join('cli', 'check.js')), 'serve and check are built');
  t.same(
    files.filter((f) => f.startsWith(`dev/`) || /sandbox|demo|testchain|(^|\/)sign\.js$/.test(f)),
    [],
    'no development support in the product build',
  );

  const help = spawnSync(process.execPath, [join(out, 'main.js'), '--help'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(help.status, 0, 'the built product runs');
  t.match(help.stdout, /serve/);
  for (const command of ['demo', 'sandbox']) {
    const run = spawnSync(process.execPath, [join(out, 'main.js'), command], { cwd: ROOT, encoding: 'utf8' });
    t.equal(run.status, 2, `${command}: a usage error in the product build`);
    t.match(
      run.stderr,
      new RegExp(`${command} is a development command, not part of this build: from a checkout run \`make demo\``),
      `${command}: says where it lives`,
    );
  }
});
