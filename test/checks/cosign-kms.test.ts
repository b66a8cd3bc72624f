// A KMS authority whose key cannot be read (KMS throttling every attempt) leaves a cosign
// signature undecided: an error for onError, not a denial, and not remembered, since that
// signature may well be the KMS key's. The real runtime, the sandbox's ECR and KMS.
import t from 'tap';
import { generateKeyPairSync, sign } from 'node:crypto';
import { MediaTypes, blobDescriptor, imageDigest, ociImage, type ImageFixture, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION, resultOf, startHarness } from '../helpers/harness.ts';

const KMS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/7d2c9a10-kms-test`;
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const SIMPLE = 'application/vnd.dev.cosign.simplesigning.v1+json';

const image = ociImage({ seed: 'cosign-kms', tags: ['kms'] });
const payload = Buffer.from(
  JSON.stringify({
    critical: {
      identity: { 'docker-reference': `${HOST}/app` },
      image: { 'docker-manifest-digest': imageDigest(image) },
      type: 'cosign container image signature',
    },
  }),
);
const sigTag: ImageFixture = {
  manifest: {
    schemaVersion: 2,
    mediaType: MediaTypes.OCI_MANIFEST,
    config: blobDescriptor(MediaTypes.OCI_CONFIG, '{}'),
    layers: [
      { ...blobDescriptor(SIMPLE, payload), annotations: { 'dev.cosignproject.cosign/signature': sign('sha256', payload, privateKey).toString('base64') } },
    ],
  },
  blobs: ['{}', payload],
  tags: [`${imageDigest(image).replace(':', '-')}.sig`],
};

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: 'app', tagMutability: 'IMMUTABLE', images: [image, sigTag] }] } } } },
  kms: { keys: [{ arn: KMS_KEY, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }] },
});

const policy = (onError: 'allow' | 'deny') => `mode: enforce
onError: ${onError}
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
checks:
  signature:
    cosign:
      authorities: [{ name: release-kms, kms: "${KMS_KEY}" }]
`;

for (const onError of ['allow', 'deny'] as const) {
  t.test(`onError ${onError}: KMS unreachable is an error, then admitted once KMS answers`, async (t) => {
    const h = await startHarness({ fixture: fixture(), policy: policy(onError) });
    t.teardown(() => h.close());
    h.sandbox.inject('kms:GetPublicKey', { kind: 'throttle' });
    const out = await h.reviewPod([`${HOST}/app:kms`]);
    const result = resultOf(out, 'signature');
    t.equal(result?.status, 'error', `undecided: ${result?.reason ?? ''}`);
    t.match(result?.reason, /release-kms: KMS GetPublicKey failed/);
    t.equal(out.response.allowed, onError === 'allow', 'onError decides');
    h.sandbox.clearFaults();
    const again = await h.reviewPod([`${HOST}/app:kms`]);
    t.equal(resultOf(again, 'signature')?.status, 'pass', 'not remembered: verified with the key once KMS answers');
    t.equal(again.response.allowed, true);
  });
}
