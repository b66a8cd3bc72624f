// Issue 12, medium 5: cached signature verdicts are keyed by the effective signature settings
// (a hash of trust stores' certificates, identities, revocation, multiArch, source), never by a
// name a user picks. An override named `default` (the base policy's own name) is refused at
// load; overrides with different trust never share a verdict; overrides with the same trust do.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicy } from '../../src/policy/load.ts';
import { buildAwsSignerShapedChain } from '../../src/dev/notation/testchain.ts';
import { signEnvelope } from '../../src/dev/notation/sign.ts';
import { imageDescriptor, ociImage, type ImageFixture, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION, startHarness } from '../helpers/harness.ts';

const RELEASE = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/release`;
const DEV = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/dev`;
const chain = await buildAwsSignerShapedChain();
const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-verdict-keys-'));
const rootPath = join(dir, 'root.pem');
writeFileSync(rootPath, chain.rootPem);

function signedBy(image: ImageFixture, profile: string): ImageFixture {
  const d = imageDescriptor(image);
  const s = signEnvelope({
    format: 'jws',
    target: { digest: d.digest, mediaType: d.mediaType, size: d.size },
    certificates: chain.certificates,
    privateKey: chain.leafKey,
    aws: { profileVersionArn: `${profile}/v1`, jobArn: `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-jobs/j1` },
  });
  image.signatures = [{ envelope: s.envelope, envelopeMediaType: s.mediaType }];
  return image;
}

const devSigned = signedBy(ociImage({ seed: 'dev-signed', tags: ['dev'] }), DEV);
const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: 'app', tagMutability: 'IMMUTABLE', images: [devSigned] }] } } } },
});

const signature = (identity: string) => `{ trustStores: [{ type: signingAuthority, path: ${rootPath} }], trustedIdentities: ["${identity}"] }`;
const base = `mode: enforce
onError: deny
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
checks:
  signature: ${signature(RELEASE)}
`;

t.test('an override named like the base policy is refused at load, with its key and line', async (t) => {
  for (const name of ['default', 'Default']) {
    const text = `${base}overrides:\n  - name: ${name}\n    namespaces: ["sandbox-*"]\n    checks:\n      signature: ${signature(DEV)}\n`;
    t.throws(() => parsePolicy(text, 'policy.yaml'), { message: /policy\.yaml:8: overrides\[0\]\.name: override name "(default|Default)" is reserved/ }, name);
  }
});

t.test('overrides with different trust never share a verdict', async (t) => {
  const policy = `${base}overrides:\n  - name: sandbox\n    namespaces: ["sandbox-*"]\n    checks:\n      signature: ${signature(DEV)}\n`;
  const h = await startHarness({ fixture: fixture(), policy });
  t.teardown(() => h.close());
  const inSandbox = await h.reviewPod([`${HOST}/app:dev`], 'sandbox-a');
  t.equal(inSandbox.response.allowed, true, 'dev-signed: admitted where the override trusts the dev profile');
  const inProd = await h.reviewPod([`${HOST}/app:dev`], 'prod');
  t.equal(inProd.response.allowed, false, 'and still denied where the base policy applies');
  t.match(inProd.response.status?.message, /not trusted|trusted identit/);
});

t.test('overrides with the same trust share one verdict (the key is the settings, not the name)', async (t) => {
  const policy = `${base}overrides:
  - name: team-a
    namespaces: ["team-a"]
    mode: warn
    checks:
      signature: ${signature(DEV)}
  - name: team-b
    namespaces: ["team-b"]
    checks:
      signature: ${signature(DEV)}
`;
  const h = await startHarness({ fixture: fixture(), policy });
  t.teardown(() => h.close());
  t.equal((await h.reviewPod([`${HOST}/app:dev`], 'team-a')).response.allowed, true);
  const listed = h.sandbox.calls('ecr:ListImageReferrers');
  t.equal((await h.reviewPod([`${HOST}/app:dev`], 'team-b')).response.allowed, true);
  t.equal(h.sandbox.calls('ecr:ListImageReferrers'), listed, 'the second override reused the verdict: same settings');
  t.equal((await h.reviewPod([`${HOST}/app:dev`], 'prod')).response.allowed, false, 'the base policy (other trust) did not');
  t.equal(h.sandbox.calls('ecr:ListImageReferrers'), listed + 1, 'and made its own verdict');
});
