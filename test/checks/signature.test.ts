// The signature check end to end: envelopes signed with an AWS-Signer-shaped ECDSA P-384
// chain, stored as referrers in the sandbox, found through ListImageReferrers, downloaded
// through GetDownloadUrlForLayer and verified natively, with revocation through Signer.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAwsSignerShapedChain } from '../../src/dev/notation/testchain.ts';
import { signEnvelope } from '../../src/dev/notation/sign.ts';
import {
  imageDescriptor,
  imageDigest,
  ociImage,
  ociIndex,
  type ImageFixture,
  type SandboxFixture,
  type SignatureFixture,
} from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION, resultOf, startHarness } from '../helpers/harness.ts';

const PROFILE = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/release`;
const VERSION = `${PROFILE}/a1b2c3d4e5`;
const DEV_VERSION = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/dev/ffff0000`;
const JOB = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-jobs/1111-2222`;

const chain = await buildAwsSignerShapedChain();
const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-trust-'));
const rootPath = join(dir, 'signer-root.pem');
writeFileSync(rootPath, chain.rootPem);

function sign(image: ImageFixture, options: { format?: 'jws' | 'cose'; profileVersionArn?: string; jobArn?: string } = {}): SignatureFixture {
  const d = imageDescriptor(image);
  const signed = signEnvelope({
    format: options.format ?? 'jws',
    target: { digest: d.digest, mediaType: d.mediaType, size: d.size },
    certificates: chain.certificates,
    privateKey: chain.leafKey,
    aws: { profileVersionArn: options.profileVersionArn ?? VERSION, jobArn: options.jobArn ?? JOB },
  });
  return { envelope: signed.envelope, envelopeMediaType: signed.mediaType };
}

function tampered(sig: SignatureFixture): SignatureFixture {
  const bytes = Buffer.from(sig.envelope as Uint8Array);
  const text = bytes.toString('utf8');
  // Flip one character of the JWS signature value: the bytes still parse, the signature fails.
  const i = text.lastIndexOf('"signature":"') + 20;
  const flipped = text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);
  return { ...sig, envelope: Buffer.from(flipped, 'utf8') };
}

const jws = ociImage({ seed: 'jws', tags: ['jws'] });
jws.signatures = [sign(jws)];
const cose = ociImage({ seed: 'cose', tags: ['cose'] });
cose.signatures = [sign(cose, { format: 'cose' })];
const unsigned = ociImage({
  seed: 'unsigned',
  tags: ['unsigned'],
  signingStatuses: [{ signingProfileArn: PROFILE, status: 'FAILED', failureReason: 'KMS key disabled' }],
});
const dev = ociImage({ seed: 'dev', tags: ['dev'] });
dev.signatures = [sign(dev, { profileVersionArn: DEV_VERSION })];
const revokedImage = ociImage({ seed: 'revoked', tags: ['revoked'] });
const REVOKED_JOB = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-jobs/revoked-job`;
revokedImage.signatures = [sign(revokedImage, { jobArn: REVOKED_JOB })];
const broken = ociImage({ seed: 'tampered', tags: ['tampered'] });
broken.signatures = [tampered(sign(broken))];
const legacy = ociImage({ seed: 'legacy', tags: ['legacy'] });
legacy.signatures = [{ ...sign(legacy), legacyConfigMediaType: true }];

const amd = ociImage({ seed: 'amd', platform: { os: 'linux', architecture: 'amd64' } });
const arm = ociImage({ seed: 'arm', platform: { os: 'linux', architecture: 'arm64' } });
amd.signatures = [sign(amd)];
arm.signatures = [sign(arm)];
const signedChildren = ociIndex({ children: [amd, arm], tags: ['children-signed'] });
const amd2 = ociImage({ seed: 'amd2', platform: { os: 'linux', architecture: 'amd64' } });
const arm2 = ociImage({ seed: 'arm2', platform: { os: 'linux', architecture: 'arm64' } });
amd2.signatures = [sign(amd2)];
const halfSigned = ociIndex({ children: [amd2, arm2], tags: ['half-signed'] });
const indexSigned = ociIndex({
  children: [ociImage({ seed: 'amd3' }), ociImage({ seed: 'arm3', platform: { os: 'linux', architecture: 'arm64' } })],
  tags: ['index-signed'],
});
indexSigned.signatures = [sign(indexSigned)];

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  revoked: [REVOKED_JOB],
  accounts: {
    [ACCOUNT]: {
      regions: {
        [REGION]: {
          repositories: [
            { name: 'app', tagMutability: 'IMMUTABLE', images: [jws, cose, unsigned, dev, revokedImage, broken, legacy] },
            { name: 'multi', tagMutability: 'IMMUTABLE', images: [signedChildren, halfSigned, indexSigned] },
          ],
        },
      },
    },
  },
});

const policy = (extra = '') => `
registries:
  ecr: [{ accountId: "${ACCOUNT}" }]
checks:
  signature:
    trustStores: [{ type: signingAuthority, path: ${rootPath} }]
    trustedIdentities: ["${PROFILE}"]
${extra}`;

t.test('signatures found through ECR and verified', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());

  for (const tag of ['jws', 'cose', 'legacy']) {
    const out = await h.reviewPod([`${HOST}/app:${tag}`]);
    t.equal(out.response.allowed, true, `${tag}: admitted`);
    t.match(resultOf(out, 'signature')?.reason, `signed by ${VERSION}`, `${tag}: the message names the signer`);
  }

  const none = await h.reviewPod([`${HOST}/app:unsigned`]);
  t.equal(none.response.allowed, false, 'unsigned: denied');
  t.match(
    none.response.status?.message,
    `[signature] no Notation signature found on ${imageDigest(unsigned).slice(0, 19)} (ECR managed signing FAILED: KMS key disabled)`,
  );
  t.match(none.response.status?.message, /Sign the image with a trusted identity/);

  const untrusted = await h.reviewPod([`${HOST}/app:dev`]);
  t.equal(untrusted.response.allowed, false, 'signed by an untrusted profile: denied');
  t.match(untrusted.response.status?.message, `[signature] no valid signature from a trusted identity (1 signature checked: signed by ${DEV_VERSION}`);

  const revoked = await h.reviewPod([`${HOST}/app:revoked`]);
  t.equal(revoked.response.allowed, false, 'revoked job: denied');
  t.match(revoked.response.status?.message, /the signature was revoked.*revoked-job/);

  const tamper = await h.reviewPod([`${HOST}/app:tampered`]);
  t.equal(tamper.response.allowed, false, 'tampered signature: denied');
  t.equal(resultOf(tamper, 'signature')?.status, 'fail');
});

t.test('verdicts are cached per digest; revocation answers too', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  await h.reviewPod([`${HOST}/app:jws`]);
  const referrers = h.sandbox.calls('ecr:ListImageReferrers');
  const revocations = h.sandbox.calls('signer:GetRevocationStatus');
  t.equal(referrers, 1);
  t.equal(revocations, 1, 'one revocation check, through the Signer endpoint override');
  await Promise.all(Array.from({ length: 20 }, () => h.reviewPod([`${HOST}/app:jws`])));
  t.equal(h.sandbox.calls('ecr:ListImageReferrers'), 1, 'no new ListImageReferrers for a cached verdict');
  t.equal(h.sandbox.calls('signer:GetRevocationStatus'), 1, 'no new GetRevocationStatus');
});

t.test('multi-arch: index or every child, and allChildren', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  t.equal((await h.reviewPod([`${HOST}/multi:index-signed`])).response.allowed, true, 'a signature on the index counts');
  const children = await h.reviewPod([`${HOST}/multi:children-signed`]);
  t.equal(children.response.allowed, true, 'every child signed counts');
  t.match(resultOf(children, 'signature')?.reason, /every platform signed/);
  const half = await h.reviewPod([`${HOST}/multi:half-signed`]);
  t.equal(half.response.allowed, false, 'one unsigned child: denied');
  t.match(half.response.status?.message, /platform linux\/arm64 \(sha256:[0-9a-f]{12}\): no Notation signature found/);

  const strict = await startHarness({ fixture: fixture(), policy: policy().replace('trustedIdentities:', 'multiArch: allChildren\n    trustedIdentities:') });
  t.teardown(() => strict.close());
  t.equal((await strict.reviewPod([`${HOST}/multi:index-signed`])).response.allowed, false, 'allChildren: the index signature alone is not enough');
  t.equal((await strict.reviewPod([`${HOST}/multi:children-signed`])).response.allowed, true, 'allChildren: every child signed passes');
});

t.test('revocation unavailable: enforce is an error folded by onError, warn admits with a warning', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  h.sandbox.inject('signer:GetRevocationStatus', { kind: 'server-error' });
  const out = await h.reviewPod([`${HOST}/app:jws`]);
  t.equal(resultOf(out, 'signature')?.status, 'error');
  t.equal(out.response.allowed, false);
  t.match(out.response.status?.message, /\[signature\] could not be verified/);
  h.sandbox.clearFaults();
  t.equal((await h.reviewPod([`${HOST}/app:jws`])).response.allowed, true, 'the failed verdict was not cached');

  const w = await startHarness({ fixture: fixture(), policy: policy().replace('trustedIdentities:', 'revocation: warn\n    trustedIdentities:') });
  t.teardown(() => w.close());
  w.sandbox.inject('signer:GetRevocationStatus', { kind: 'server-error' });
  const warned = await w.reviewPod([`${HOST}/app:jws`]);
  t.equal(warned.response.allowed, true, 'revocation warn: admitted');
  t.ok(
    (warned.response.warnings ?? []).some((x) => /revocation/i.test(x)),
    'with a warning about revocation',
  );
});

t.test('a signature revoked after its verdict was cached: one GetRevocationStatus call finds it', async (t) => {
  // The runtime's clock is this test's: the revocation TTL passes when the test moves it.
  let now = Date.now();
  const h = await startHarness({ fixture: fixture(), policy: `${policy()}cache:\n  ttlSeconds: { revocation: 1 }\n`, now: () => now });
  t.teardown(() => h.close());
  t.equal((await h.reviewPod([`${HOST}/app:jws`])).response.allowed, true, 'admitted before the revocation');
  const referrers = h.sandbox.calls('ecr:ListImageReferrers');
  const revocations = h.sandbox.calls('signer:GetRevocationStatus');
  h.sandbox.update((f) => {
    f.revoked = [...(f.revoked ?? []), JOB];
  });
  now += 999;
  t.equal((await h.reviewPod([`${HOST}/app:jws`])).response.allowed, true, 'within the revocation TTL the cached answer stands');
  t.equal(h.sandbox.calls('signer:GetRevocationStatus'), revocations, 'without asking Signer');
  now += 1;
  const after = await h.reviewPod([`${HOST}/app:jws`]);
  t.equal(after.response.allowed, false, 'denied once the revocation TTL has passed');
  t.match(after.response.status?.message, /\[signature\] the signature was revoked .*revoked: .*signing-jobs\/1111-2222/);
  t.equal(h.sandbox.calls('signer:GetRevocationStatus'), revocations + 1, 'one new GetRevocationStatus call');
  t.equal(h.sandbox.calls('ecr:ListImageReferrers'), referrers, 'the signatures were not fetched and verified again');
});

t.test('one failed envelope download (S3 503) is retried', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy() });
  t.teardown(() => h.close());
  h.sandbox.inject('layer:GET', { kind: 'unavailable', times: 1 });
  const out = await h.reviewPod([`${HOST}/app:jws`]);
  t.equal(out.response.allowed, true, 'admitted after the retry');
  t.equal(h.sandbox.calls('layer:GET'), 2, 'two downloads reached the pre-signed URL');
});
