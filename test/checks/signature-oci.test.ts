// Signatures read through the OCI distribution API: a non-ECR registry named in
// registries.oci, and ECR images whose policy reads signatures from the registry endpoint
// (checks.signature.source: registry) with a GetAuthorizationToken password.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAwsSignerShapedChain } from '../../src/dev/notation/testchain.ts';
import { signEnvelope } from '../../src/dev/notation/sign.ts';
import { imageDescriptor, imageDigest, ociImage, type ImageFixture, type SandboxFixture, type SignatureFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION, resultOf, startHarness } from '../helpers/harness.ts';

const PROFILE = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/release`;
const chain = await buildAwsSignerShapedChain();
const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-trust-'));
const rootPath = join(dir, 'root.pem');
writeFileSync(rootPath, chain.rootPem);

function sign(image: ImageFixture, format: 'jws' | 'cose'): SignatureFixture {
  const d = imageDescriptor(image);
  const s = signEnvelope({
    format,
    target: { digest: d.digest, mediaType: d.mediaType, size: d.size },
    certificates: chain.certificates,
    privateKey: chain.leafKey,
    aws: { profileVersionArn: `${PROFILE}/v1`, jobArn: `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-jobs/j1` },
  });
  return { envelope: s.envelope, envelopeMediaType: s.mediaType };
}

const signed = ociImage({ seed: 'oci-signed', tags: ['signed'] });
signed.signatures = [sign(signed, 'jws'), sign(signed, 'cose')];
const unsigned = ociImage({ seed: 'oci-unsigned', tags: ['unsigned'] });

const fixture = (requireAuth: boolean): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  registry: { requireAuth },
  accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: 'app', tagMutability: 'IMMUTABLE', images: [signed, unsigned] }] } } } },
});

const signature = `
  signature:
    trustStores: [{ type: signingAuthority, path: ${rootPath} }]
    trustedIdentities: ["${PROFILE}"]`;

t.test('a registries.oci registry: digest and signature through the OCI API', async (t) => {
  // The sandbox's /v2/ API stands in for a non-ECR registry on 127.0.0.1.
  const h = await startHarness({
    fixture: fixture(false),
    policy: (url) => `registries:\n  oci: [{ host: "${new URL(url).host}", plainHttp: true }]\nchecks:${signature}\n`,
  });
  t.teardown(() => h.close());
  const registryHost = new URL(h.sandbox.url).host;

  const ok = await h.reviewPod([`${registryHost}/app:signed`]);
  t.equal(ok.response.allowed, true, 'a signed image in an OCI registry is admitted');
  t.equal(ok.images[0]?.digest, imageDigest(signed), 'its tag resolved through the OCI API');
  t.match(resultOf(ok, 'signature')?.reason, `signed by ${PROFILE}/v1`);
  t.ok(
    h.sandbox.callLog().some((c) => c.op.startsWith('oci:')),
    'read through /v2/',
  );
  t.equal(h.sandbox.calls('ecr:ListImageReferrers'), 0, 'not through the ECR API');
  t.notOk(resultOf(ok, 'immutability') || resultOf(ok, 'vulnerabilities'), 'ECR-only checks do not run');

  const no = await h.reviewPod([`${registryHost}/app:unsigned`]);
  t.equal(no.response.allowed, false, 'an unsigned image in an OCI registry is denied');
  t.match(no.response.status?.message, `[signature] no Notation signature found on ${imageDigest(unsigned).slice(0, 19)}`);

  const missing = await h.reviewPod([`${registryHost}/app:nope`]);
  t.match(missing.response.status?.message, `[digest] tag nope not found in ${registryHost}/app`);
});

t.test('ECR signatures read from the registry endpoint with a GetAuthorizationToken password', async (t) => {
  const h = await startHarness({
    fixture: fixture(true),
    policy: (url) =>
      `registries:\n  ecr: [{ accountId: "${ACCOUNT}" }]\naws:\n  endpoints: { ecrRegistry: "${url}" }\nchecks:${signature}\n    source: registry\n`,
  });
  t.teardown(() => h.close());
  const ok = await h.reviewPod([`${HOST}/app:signed`]);
  t.equal(ok.response.allowed, true, 'signed: admitted');
  t.equal(h.sandbox.calls('ecr:ListImageReferrers'), 0, 'the ECR API was not used for signatures');
  t.equal(h.sandbox.calls('ecr:GetAuthorizationToken'), 1, 'one GetAuthorizationToken');
  t.ok(
    h.sandbox.callLog().some((c) => c.op.startsWith('oci:')),
    'signatures came through the registry API',
  );
  const no = await h.reviewPod([`${HOST}/app:unsigned`]);
  t.equal(no.response.allowed, false, 'unsigned: denied');
});
