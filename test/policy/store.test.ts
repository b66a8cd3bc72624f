import t from 'tap';
import { join } from 'node:path';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPolicyStore } from '../../src/policy/store.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { ErrorCodes } from '../../src/support/errors.ts';
import { silentLogger } from '../fixtures/policy.ts';

const NOTATION_ROOT = join(import.meta.dirname, '..', 'fixtures', 'notation', 'NotationTestRoot.pem');
const ALPINE_ROOT = join(import.meta.dirname, '..', 'fixtures', 'notation', 'alpine-root.pem');

const GOOD_A = 'mode: enforce\nnamespaces:\n  exclude: [kube-system]\n';
const GOOD_B = 'mode: warn\nnamespaces:\n  exclude: [kube-system, monitoring]\n';
const BAD = 'mode: warn\nnamespaces:\n  exclud: [monitoring]\n';

async function reloadsCounted(metrics: ReturnType<typeof createMetrics>): Promise<Record<string, number>> {
  const m = await metrics.policyReloads.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.outcome), v.value]));
}

t.test('reload applies a good file, refuses a bad one and keeps the last good policy', async (t) => {
  const dir = t.testdir({ 'policy.yaml': GOOD_A });
  const path = join(dir, 'policy.yaml');
  const metrics = createMetrics();
  const store = createPolicyStore({ path, logger: silentLogger, metrics });
  const first = store.current();
  t.equal(first.base.mode, 'enforce');
  t.equal(store.status().source, path);
  t.notOk(store.status().lastReloadError);

  t.equal(store.reload(), false, 'nothing changed');

  writeFileSync(path, GOOD_B);
  t.equal(store.reload(), true, 'a good file takes effect');
  t.equal(store.current().base.mode, 'warn');
  t.ok(store.current().isNamespaceExcluded('monitoring'));
  const good = store.current();
  t.not(good.version, first.version);

  writeFileSync(path, BAD);
  t.equal(store.reload(), false, 'a bad file does not take effect');
  t.equal(store.current(), good, 'the last good policy stays in force');
  t.equal(store.status().version, good.version);
  t.match(store.status().lastReloadError, /policy\.yaml:3: namespaces\.exclud: unknown key/, 'status says why, with key and line');

  rmSync(path);
  t.equal(store.reload(), false);
  t.match(store.status().lastReloadError, /cannot read policy file/);
  t.equal(store.current(), good);

  writeFileSync(path, GOOD_A);
  t.equal(store.reload(), true);
  t.equal(store.current().base.mode, 'enforce');
  t.notOk(store.status().lastReloadError, 'a good reload clears the error');
  t.same(await reloadsCounted(metrics), { applied: 2, refused: 2 });
});

t.test('an empty file: the store refuses to start on it, and a reload to it keeps the last good policy', async (t) => {
  const dir = t.testdir({ 'policy.yaml': GOOD_B, 'empty.yaml': '' });
  t.throws(() => createPolicyStore({ path: join(dir, 'empty.yaml') }), {
    code: ErrorCodes.CONFIG_INVALID,
    message: /empty\.yaml: \(top level\): the file holds no policy/,
  });
  const path = join(dir, 'policy.yaml');
  const metrics = createMetrics();
  const store = createPolicyStore({ path, logger: silentLogger, metrics });
  const good = store.current();
  for (const text of ['', '# emptied by mistake\n', 'null\n']) {
    writeFileSync(path, text);
    t.equal(store.reload(), false, `${JSON.stringify(text)}: not applied`);
    t.equal(store.current(), good, 'the last good policy stays in force');
    t.equal(store.current().base.mode, 'warn');
    t.match(store.status().lastReloadError, /policy\.yaml: \(top level\): the file holds no policy/);
  }
  t.same(await reloadsCounted(metrics), { refused: 3 });
});

t.test('the store refuses to start on a bad file', async (t) => {
  const dir = t.testdir({ 'policy.yaml': BAD });
  t.throws(() => createPolicyStore({ path: join(dir, 'policy.yaml') }), { code: ErrorCodes.CONFIG_INVALID, message: /:3: namespaces\.exclud: unknown key/ });
  t.throws(() => createPolicyStore({ path: join(dir, 'missing.yaml') }), { code: ErrorCodes.CONFIG_READ });
});

t.test('without a file: the built-in default allows no registry, and the own namespace is excluded', async (t) => {
  const store = createPolicyStore({ ownNamespace: 'ecr-admission' });
  t.equal(store.status().source, '<built-in default>');
  t.same(
    [store.current().ecrAccounts.size, store.current().ociRegistries.size, store.current().describeAllowedRegistries()],
    [0, 0, 'none (the policy allows no registry)'],
  );
  t.ok(store.current().isNamespaceExcluded('ecr-admission'));
  t.notOk(store.current().isNamespaceExcluded('default'));
  t.equal(store.reload(), false);
  const stop = store.watch(10);
  stop();
});

t.test('watch polls the file and applies or refuses changes', async (t) => {
  const dir = t.testdir({ 'policy.yaml': GOOD_A });
  const path = join(dir, 'policy.yaml');
  const store = createPolicyStore({ path, logger: silentLogger });
  const stop = store.watch(20);
  t.teardown(stop);
  const waitFor = async (what: string, predicate: () => boolean) => {
    for (let i = 0; i < 200 && !predicate(); i++) await sleep(10);
    t.ok(predicate(), what);
  };
  writeFileSync(path, GOOD_B);
  await waitFor('the new file took effect', () => store.current().base.mode === 'warn');
  writeFileSync(path, BAD);
  await waitFor('the bad file was refused', () => store.status().lastReloadError !== undefined);
  t.equal(store.current().base.mode, 'warn');
  stop();
  writeFileSync(path, GOOD_A);
  await sleep(100);
  t.equal(store.current().base.mode, 'warn', 'a stopped watch reloads nothing');
});

t.test('watch also polls the trust stores of the policy in force: a broken one is a refused reload, a new good one is taken', async (t) => {
  const dir = t.testdir({ 'root.pem': readFileSync(NOTATION_ROOT, 'utf8'), 'trust-dir': { 'a.pem': readFileSync(NOTATION_ROOT, 'utf8') } });
  const path = join(dir, 'policy.yaml');
  const rootPath = join(dir, 'root.pem');
  writeFileSync(
    path,
    `checks:\n  signature:\n    trustStores:\n      - { type: ca, path: ${rootPath} }\n    trustedIdentities: ["*"]\noverrides:\n  - name: dir\n    namespaces: [d]\n    checks:\n      signature:\n        trustStores: [{ type: ca, path: ${join(dir, 'trust-dir')} }]\n        trustedIdentities: ["*"]\n`,
  );
  const metrics = createMetrics();
  const store = createPolicyStore({ path, logger: silentLogger, metrics });
  t.same(store.current().trustStorePaths, [rootPath, join(dir, 'trust-dir')]);
  const first = store.current();
  const stop = store.watch(20);
  t.teardown(stop);
  const waitFor = async (what: string, predicate: () => boolean) => {
    for (let i = 0; i < 200 && !predicate(); i++) await sleep(10);
    t.ok(predicate(), what);
  };
  writeFileSync(rootPath, 'not a certificate\n');
  await waitFor('the broken trust store refused a reload', () => store.status().lastReloadError !== undefined);
  t.match(store.status().lastReloadError, /policy\.yaml:4: checks\.signature\.trustStores\[0\]\.path/);
  t.equal(store.current(), first, 'the last good policy stays in force');
  writeFileSync(rootPath, readFileSync(ALPINE_ROOT, 'utf8'));
  await waitFor('the new good trust store was taken', () => store.current() !== first);
  t.notOk(store.status().lastReloadError);
  t.equal(
    store.current().base.trust?.trustStores[0]?.certificates[0]?.fingerprint256,
    new X509Certificate(readFileSync(ALPINE_ROOT)).fingerprint256,
    'with the new certificate',
  );
  const second = store.current();
  writeFileSync(join(dir, 'trust-dir', 'b.pem'), readFileSync(ALPINE_ROOT, 'utf8'));
  await waitFor('a certificate added to a directory store was taken', () => store.current() !== second);
  t.equal(store.current().overrides[0]?.effective.trust?.trustStores[0]?.certificates.length, 2);
  t.same(await reloadsCounted(metrics), { refused: 1, applied: 2 });
});
