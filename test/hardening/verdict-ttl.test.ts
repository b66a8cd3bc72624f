// Issue 12, low: a cached signature verdict must not outlive the signature. The verdict that
// admits an image is cached for the digest TTL (an hour by default), but a signature whose
// envelope expires in ten minutes stops verifying then: the verdict's TTL is capped at the
// expiry, on the fact cache's clock (injected here), and the next admission re-verifies and
// denies. The real signature check, real SDK clients and the sandbox; only the clock is ours.
import t from 'tap';
import { parsePolicy } from '../../src/policy/load.ts';
import { FactCache } from '../../src/support/fact-cache.ts';
import { signatureCheck } from '../../src/checks/signature.ts';
import type { CheckContext } from '../../src/checks/types.ts';
import { AwsClients } from '../../src/facts/aws-clients.ts';
import { EcrSignatureSource } from '../../src/facts/ecr/signatures.ts';
import { OciFacts } from '../../src/facts/oci/facts.ts';
import { SignerRevocation } from '../../src/facts/signer/revocation.ts';
import { parseEcrHost } from '../../src/image/ecr-host.ts';
import { parseImageReference } from '../../src/image/reference.ts';
import { buildAwsSignerShapedChain } from '../../src/dev/notation/testchain.ts';
import { signEnvelope } from '../../src/dev/notation/sign.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { imageDescriptor, ociImage, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION, SANDBOX_CREDENTIALS, startHarness } from '../helpers/harness.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PROFILE = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/release`;
const chain = await buildAwsSignerShapedChain();
const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-verdict-ttl-'));
const rootPath = join(dir, 'root.pem');
writeFileSync(rootPath, chain.rootPem);

const START = Date.now();
const EXPIRES_IN_MS = 10 * 60 * 1000;
const image = ociImage({ seed: 'expiring', tags: ['expiring'] });
const target = imageDescriptor(image);
const signed = signEnvelope({
  format: 'jws',
  target: { digest: target.digest, mediaType: target.mediaType, size: target.size },
  certificates: chain.certificates,
  privateKey: chain.leafKey,
  signingTime: new Date(START - 1000),
  expiry: new Date(START + EXPIRES_IN_MS),
  aws: { profileVersionArn: `${PROFILE}/v1`, jobArn: `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-jobs/j1` },
});
image.signatures = [{ envelope: signed.envelope, envelopeMediaType: signed.mediaType }];

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: 'app', tagMutability: 'IMMUTABLE', images: [image] }] } } } },
});
const policyText = `mode: enforce
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
checks:
  signature:
    trustStores: [{ type: signingAuthority, path: ${rootPath} }]
    trustedIdentities: ["${PROFILE}"]
`;

t.test('a verdict is cached no longer than its signature verifies', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policyText });
  t.teardown(() => h.close());
  let now = START;
  const clock = () => now;
  const cache = new FactCache({ maxEntries: 100, now: clock });
  const clients = new AwsClients({
    env: h.sandbox.endpoints(),
    aws: { endpoints: {}, maxAttempts: 3 },
    roleFor: () => undefined,
    credentials: SANDBOX_CREDENTIALS,
  });
  t.teardown(() => clients.destroy());
  const loaded = parsePolicy(policyText, 'policy.yaml');
  const compiled = compilePolicy(loaded);
  const ttl = loaded.policy.cache;
  t.ok(ttl.ttlSeconds.digest * 1000 > EXPIRES_IN_MS, 'the digest TTL alone would outlive the signature');
  const check = signatureCheck({
    cache,
    ttl,
    now: clock,
    source: new EcrSignatureSource(clients),
    oci: new OciFacts({ cache, ttl, clients, aws: loaded.policy.aws }),
    revocation: new SignerRevocation({ clients, cache, ttlSeconds: ttl.ttlSeconds.revocation }),
  });
  const ref = parseImageReference(`${HOST}/app:expiring`);
  const run = () => {
    const ctx: CheckContext = {
      image: {
        ref,
        ecr: { ...parseEcrHost(HOST)!, repository: 'app' },
        managed: true,
        resolved: { digest: target.digest, mediaType: target.mediaType, size: target.size },
      },
      policy: compiled.forImage('team-a', ref),
      compiled,
      namespace: 'team-a',
      signal: AbortSignal.timeout(5000),
      deadline: Date.now() + 5000,
      now: new Date(now),
    };
    return check.run(ctx);
  };

  t.equal((await run()).status, 'pass', 'valid now');
  const listed = h.sandbox.calls('ecr:ListImageReferrers');
  now = START + EXPIRES_IN_MS - 1000;
  t.equal((await run()).status, 'pass', 'a second before expiry: still valid');
  t.equal(h.sandbox.calls('ecr:ListImageReferrers'), listed, 'served from the cached verdict');
  now = START + EXPIRES_IN_MS + 1000;
  const after = await run();
  t.equal(after.status, 'fail', 'past the expiry the cached verdict is gone and the signature is judged again');
  t.match(after.reason, /expired/);
  t.equal(h.sandbox.calls('ecr:ListImageReferrers'), listed + 1, 'verified again, not served from the cache');
});
