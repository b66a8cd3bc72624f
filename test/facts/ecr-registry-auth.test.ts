// ECR's registry endpoint through the OCI client: HTTP Basic with the password from
// GetAuthorizationToken, obtained through the real ECR SDK client from the AWS sandbox.
import t from 'tap';
import { AwsClients } from '../../src/facts/aws-clients.ts';
import { EcrRegistryAuth, decodeEcrAuthorizationToken, ecrRegistryClient } from '../../src/facts/ecr/registry-auth.ts';
import { OciRegistryClient } from '../../src/facts/oci/registry.ts';
import { ACCOUNT, credentials, imageDigest, sandbox, standardFixture } from '../dev/sandbox/helpers.ts';
import type { Sandbox } from '../../src/dev/sandbox/index.ts';

const live = () => AbortSignal.timeout(10_000);

function awsClients(t: { teardown(fn: () => unknown): void }, sb: Sandbox): AwsClients {
  const clients = new AwsClients({ env: sb.endpoints(), aws: { endpoints: {}, maxAttempts: 1 }, roleFor: () => undefined, credentials });
  t.teardown(() => clients.destroy());
  return clients;
}

async function authSandbox(t: { teardown(fn: () => unknown): void }, tokenTtlMs?: number) {
  const s = standardFixture();
  s.fixture.registry = { requireAuth: true, ...(tokenTtlMs !== undefined && { tokenTtlMs }) };
  const sb = await sandbox(t, s.fixture);
  return { s, sb, clients: awsClients(t, sb) };
}

t.test('decodeEcrAuthorizationToken', async (t) => {
  t.same(decodeEcrAuthorizationToken(Buffer.from('AWS:pass:with:colons').toString('base64')), { username: 'AWS', password: 'pass:with:colons' });
  t.throws(() => decodeEcrAuthorizationToken(Buffer.from('no-separator').toString('base64')), { name: 'FactError', code: 'AWS_ERROR', service: 'ecr' });
  t.throws(() => decodeEcrAuthorizationToken(Buffer.from('AWS:').toString('base64')), { code: 'AWS_ERROR' });
});

t.test('Basic auth with the GetAuthorizationToken password; 401 without it', async (t) => {
  const { s, sb, clients } = await authSandbox(t);
  const oci = ecrRegistryClient({ clients, accountId: ACCOUNT, region: 'us-east-1', baseUrl: sb.url, plainHttp: true });

  const resolved = await oci.resolve('web', { tag: '1.4.2' }, live());
  t.equal(resolved.digest, imageDigest(s.web));
  const list = await oci.signatures('web', resolved.digest, live());
  t.same(Buffer.from(list.signatures[0]!.envelope), s.envelope);
  t.equal(sb.calls('ecr:GetAuthorizationToken'), 1, 'one token for every request');
  const unauthorized = sb.callLog().filter((c) => c.op.startsWith('oci:') && c.status === 401);
  t.equal(unauthorized.length, 1, 'only the first request was challenged; Basic is sent up front after that');

  const anonymous = new OciRegistryClient({ baseUrl: sb.url, plainHttp: true });
  await t.rejects(anonymous.resolve('web', { tag: '1.4.2' }, live()), {
    name: 'FactError',
    code: 'ACCESS_DENIED',
    service: 'oci',
    message: /requires credentials/,
  });
  const guessing = new OciRegistryClient({ baseUrl: sb.url, plainHttp: true, credentials: async () => ({ username: 'AWS', password: 'guess' }) });
  await t.rejects(guessing.signatures('web', resolved.digest, live()), { code: 'ACCESS_DENIED', message: /refused the configured credentials/ });

  t.test('the default host is the ECR registry endpoint', async (t) => {
    t.equal(ecrRegistryClient({ clients, accountId: ACCOUNT, region: 'us-east-1' }).baseUrl, `https://${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`);
    t.equal(ecrRegistryClient({ clients, accountId: ACCOUNT, region: 'cn-north-1' }).baseUrl, `https://${ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn`);
  });
});

t.test('GetAuthorizationToken failures are FactErrors of ECR', async (t) => {
  const { sb, clients } = await authSandbox(t);
  sb.inject('ecr:GetAuthorizationToken', { kind: 'access-denied', times: 1 });
  const oci = ecrRegistryClient({ clients, accountId: ACCOUNT, region: 'us-east-1', baseUrl: sb.url, plainHttp: true });
  await t.rejects(oci.resolve('web', { tag: '1.4.2' }, live()), {
    name: 'FactError',
    code: 'ACCESS_DENIED',
    service: 'ecr',
    operation: 'GetAuthorizationToken',
  });
  t.match((await oci.resolve('web', { tag: '1.4.2' }, live())).digest, /^sha256:/, 'a failure is not cached');

  sb.setLatency((op) => (op === 'ecr:GetAuthorizationToken' ? 500 : 0));
  const slow = new EcrRegistryAuth({ clients, accountId: ACCOUNT, region: 'us-east-1' });
  await t.rejects(slow.credentials({ refresh: false, signal: AbortSignal.timeout(50) }), { code: 'TIMEOUT', service: 'ecr' });
  const after = await slow.credentials({ refresh: false, signal: live() });
  t.equal(after?.username, 'AWS', 'the shared call went on for the next caller');
  t.equal(sb.calls('ecr:GetAuthorizationToken'), 3, 'the timed-out caller and the next one shared one call');
});

t.test('the token is cached until shortly before expiresAt, and shared by concurrent callers', async (t) => {
  const { sb, clients } = await authSandbox(t, 60 * 60 * 1000);
  let now = Date.now();
  const auth = new EcrRegistryAuth({ clients, accountId: ACCOUNT, region: 'us-east-1', now: () => now });
  const all = await Promise.all(Array.from({ length: 10 }, () => auth.credentials({ refresh: false, signal: live() })));
  t.equal(new Set(all.map((c) => c?.password)).size, 1);
  t.equal(sb.calls('ecr:GetAuthorizationToken'), 1, 'ten concurrent callers, one call');
  now += 54 * 60 * 1000;
  await auth.credentials({ refresh: false, signal: live() });
  t.equal(sb.calls('ecr:GetAuthorizationToken'), 1, 'still cached 6 minutes before expiry');
  now += 2 * 60 * 1000;
  const renewed = await auth.credentials({ refresh: false, signal: live() });
  t.equal(sb.calls('ecr:GetAuthorizationToken'), 2, 'replaced 4 minutes before expiry (margin 5 minutes)');
  t.not(renewed?.password, all[0]?.password);
  await auth.credentials({ refresh: true, signal: live() });
  t.equal(sb.calls('ecr:GetAuthorizationToken'), 3, 'refresh replaces a cached token');
});

t.test('a token the registry no longer accepts is replaced', async (t) => {
  const { s, sb, clients } = await authSandbox(t, 300);
  // A clock that never moves: the helper believes its token is fresh, the registry does not.
  const oci = ecrRegistryClient({ clients, accountId: ACCOUNT, region: 'us-east-1', baseUrl: sb.url, plainHttp: true, auth: { now: () => 0 } });
  t.equal((await oci.resolve('web', { tag: '1.4.2' }, live())).digest, imageDigest(s.web));
  await new Promise((r) => setTimeout(r, 400));
  t.equal((await oci.resolve('web', { tag: '1.4.2' }, live())).digest, imageDigest(s.web));
  t.equal(sb.calls('ecr:GetAuthorizationToken'), 2, 'the refused token was replaced once');
});
