// The sandbox's KMS (issue 19): GetPublicKey through the real @aws-sdk/client-kms over the JSON
// 1.1 protocol, with keys this test generates, and the error shapes of the SDK's model; then
// the product's KmsPublicKeys fact through AwsClients (AWS_ENDPOINT_URL_KMS), fetched once.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import {
  DisabledException,
  GetPublicKeyCommand,
  KMSClient,
  KMSInvalidStateException,
  NotFoundException,
  UnsupportedOperationException,
} from '@aws-sdk/client-kms';
import { AwsClients } from '../../../src/facts/aws-clients.ts';
import { KmsPublicKeys } from '../../../src/facts/kms/public-keys.ts';
import { FactCache } from '../../../src/support/fact-cache.ts';
import type { SandboxFixture } from '../../../src/dev/sandbox/index.ts';
import { ACCOUNT, OTHER_ACCOUNT, credentials, sandbox } from './helpers.ts';

const pem = (type: 'ec' | 'rsa' | 'ed25519', opts: object = {}) =>
  (generateKeyPairSync as (t: string, o: object) => { publicKey: { export(o: object): string } })(type, opts).publicKey.export({ type: 'spki', format: 'pem' });
const P256 = pem('ec', { namedCurve: 'P-256' });
const RSA = pem('rsa', { modulusLength: 3072 });
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const RSA_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/rsa-3072`;
const DISABLED = `arn:aws:kms:us-east-1:${ACCOUNT}:key/disabled`;
const DELETING = `arn:aws:kms:us-east-1:${ACCOUNT}:key/deleting`;
const SYMMETRIC = `arn:aws:kms:us-east-1:${ACCOUNT}:key/symmetric`;
const OTHER = `arn:aws:kms:us-east-1:${OTHER_ACCOUNT}:key/other-account`;

const fixture: SandboxFixture = {
  defaultAccount: ACCOUNT,
  accounts: { [ACCOUNT]: { regions: { 'us-east-1': { repositories: [] } } } },
  kms: {
    keys: [
      { arn: KEY, publicKeyPem: P256, aliases: ['alias/cosign-release'] },
      { arn: RSA_KEY, publicKeyPem: RSA },
      { arn: DISABLED, publicKeyPem: P256, keyState: 'Disabled' },
      { arn: DELETING, publicKeyPem: P256, keyState: 'PendingDeletion' },
      { arn: SYMMETRIC, keyUsage: 'ENCRYPT_DECRYPT' },
      { arn: OTHER, publicKeyPem: P256 },
    ],
  },
};

t.test('GetPublicKey through the real SDK client', async (t) => {
  const sb = await sandbox(t, fixture);
  const kms = new KMSClient({ endpoint: sb.url, region: 'us-east-1', credentials, maxAttempts: 1 });
  t.teardown(() => kms.destroy());
  const get = (KeyId: string) => kms.send(new GetPublicKeyCommand({ KeyId }));

  const byArn = await get(KEY);
  t.equal(byArn.KeyId, KEY);
  t.equal(byArn.KeySpec, 'ECC_NIST_P256');
  t.equal(byArn.KeyUsage, 'SIGN_VERIFY');
  t.same(byArn.SigningAlgorithms, ['ECDSA_SHA_256']);
  t.equal(
    Buffer.from(byArn.PublicKey!).toString('base64'),
    Buffer.from(P256.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64'),
    'the DER of the key',
  );
  for (const id of ['1234abcd-12ab-34cd-56ef-1234567890ab', 'alias/cosign-release', `arn:aws:kms:us-east-1:${ACCOUNT}:alias/cosign-release`]) {
    t.equal((await get(id)).KeyId, KEY, `${id} names the key (KeyId answers its ARN)`);
  }
  const rsa = await get(RSA_KEY);
  t.equal(rsa.KeySpec, 'RSA_3072');
  t.ok(rsa.SigningAlgorithms?.includes('RSASSA_PKCS1_V1_5_SHA_256'));
  t.equal((await get(OTHER)).KeyId, OTHER, "another account's key by its ARN");

  await t.rejects(get('alias/nope'), NotFoundException);
  await t.rejects(get(`arn:aws:kms:us-east-1:${ACCOUNT}:key/missing`), {
    name: 'NotFoundException',
    message: `Key 'arn:aws:kms:us-east-1:${ACCOUNT}:key/missing' does not exist`,
  });
  await t.rejects(get('other-account'), NotFoundException, "another account's key by bare id is not found");
  await t.rejects(get(DISABLED), DisabledException);
  await t.rejects(get(DELETING), KMSInvalidStateException);
  await t.rejects(get(SYMMETRIC), UnsupportedOperationException);
  await t.rejects(get('arn:aws:kms:nope'), { name: 'InvalidArnException' });

  const west = new KMSClient({ endpoint: sb.url, region: 'us-west-2', credentials, maxAttempts: 1 });
  t.teardown(() => west.destroy());
  await t.rejects(west.send(new GetPublicKeyCommand({ KeyId: KEY })), NotFoundException, 'a key of another region is not found');
  t.equal(sb.calls('kms:GetPublicKey'), 14);
});

t.test('KmsPublicKeys: the key read once and cached, AWS_ENDPOINT_URL_KMS honoured', async (t) => {
  const sb = await sandbox(t, fixture);
  const clients = new AwsClients({ env: sb.endpoints(), aws: { endpoints: {}, maxAttempts: 1 }, roleFor: () => undefined, credentials });
  t.teardown(() => clients.destroy());
  const keys = new KmsPublicKeys({ clients, cache: new FactCache({ maxEntries: 10 }), ttlSeconds: 3600 });
  const signal = new AbortController().signal;
  const first = await keys.get(KEY, 'us-east-1', signal, 5000);
  const second = await keys.get(KEY, 'us-east-1', signal, 5000);
  t.equal(first.kind, 'ecdsa P-256');
  t.equal(second.key, first.key, 'the same key object');
  t.equal(sb.calls('kms:GetPublicKey'), 1, 'one GetPublicKey for two reads');
  await t.rejects(
    keys.get(DISABLED, 'us-east-1', signal, 5000),
    { code: 'AWS_ERROR', definitive: false },
    'a disabled key is an AWS-side failure, for onError',
  );
  await t.rejects(keys.get(SYMMETRIC, 'us-east-1', signal, 5000), { code: 'AWS_ERROR', definitive: false }, 'a symmetric key has no public key');
});
