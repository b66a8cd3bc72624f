// Signatures made by the real cosign CLI (issue 19), found and verified by the product's code
// without a cluster: in olareg through the OCI client (referrers API for the Sigstore bundle,
// the sha256-<hex>.sig tag for the simple-signing layer), and, with the same bytes, through
// the sandbox's ECR API (ListImageReferrers, BatchGetImage by tag, GetDownloadUrlForLayer);
// then the whole signature check with a key authority, a KMS authority (the sandbox's KMS holds
// the generated public key) and an untrusted key.
import t from 'tap';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { e2eOutputDir, startOlareg } from '../rig/index.ts';
import { COSIGN_REPOSITORY, buildCosignWorld, type CosignCase } from '../support/cosign-world.ts';
import { startSandbox } from '../../../src/dev/sandbox/index.ts';
import { AwsClients } from '../../../src/facts/aws-clients.ts';
import { EcrSignatureSource } from '../../../src/facts/ecr/signatures.ts';
import { EcrCosignSource } from '../../../src/facts/ecr/cosign-signatures.ts';
import { KmsPublicKeys } from '../../../src/facts/kms/public-keys.ts';
import { OciFacts } from '../../../src/facts/oci/facts.ts';
import { EnvelopeBudget } from '../../../src/facts/signature-budget.ts';
import { SignerRevocation } from '../../../src/facts/signer/revocation.ts';
import { parsePublicKey, verifyCosign, type Authority, type CosignArtifact } from '../../../src/cosign/index.ts';
import { signatureCheck } from '../../../src/checks/signature.ts';
import type { CheckContext } from '../../../src/checks/types.ts';
import { compilePolicy } from '../../../src/policy/compile.ts';
import { parsePolicy } from '../../../src/policy/load.ts';
import { FactCache } from '../../../src/support/fact-cache.ts';
import { parseEcrHost } from '../../../src/image/ecr-host.ts';
import { parseImageReference } from '../../../src/image/reference.ts';

t.setTimeout(5 * 60_000);

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const KMS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0b7f3e2a-cosign-e2e`;
const credentials = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox' };
const forms = (artifacts: CosignArtifact[]) => artifacts.map((a) => a.form).sort();

t.test('cosign sign output, through olareg and through the ECR API', async (t) => {
  const out = e2eOutputDir(t, 'cosign-signatures');
  const registry = await startOlareg({ dir: join(out, 'olareg') });
  t.teardown(() => registry.stop());
  const world = await buildCosignWorld(out, registry);
  const sigTag = (c: CosignCase) => `${world.digests[c].replace(':', '-')}.sig`;
  t.same(
    [...world.tags].sort(),
    ['bundle', 'other-key', sigTag('tag'), 'tag', 'unsigned'].sort(),
    'one sha256-<hex>.sig tag, for the legacy-format image only',
  );

  const trusted: Authority = { kind: 'key', name: 'release', key: parsePublicKey(world.trustedKeyPem).key, describe: 'key release' };
  const other: Authority = { kind: 'key', name: 'other', key: parsePublicKey(world.otherKeyPem).key, describe: 'key other' };
  const signal = new AbortController().signal;

  const sandbox = await startSandbox({
    fixture: {
      defaultAccount: ACCOUNT,
      accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: COSIGN_REPOSITORY, tagMutability: 'MUTABLE', images: world.ecrImages }] } } } },
      kms: { keys: [{ arn: KMS_KEY, publicKeyPem: world.trustedKeyPem }] },
    },
  });
  t.teardown(() => sandbox.close());
  const clients = new AwsClients({ env: sandbox.endpoints(), aws: { endpoints: {}, maxAttempts: 1 }, roleFor: () => undefined, credentials });
  t.teardown(() => clients.destroy());
  const cache = new FactCache({ maxEntries: 1000 });
  const ttl = parsePolicy('mode: enforce\n', 'p.yaml').policy.cache;
  const oci = new OciFacts({ clients, cache, ttl, aws: { endpoints: {}, maxAttempts: 1 } });
  const ecrSource = new EcrCosignSource(clients, new EcrSignatureSource(clients));
  const olaregLoc = { host: registry.host, repository: COSIGN_REPOSITORY, plainHttp: true };
  const ecrLoc = { ...parseEcrHost(HOST)!, repository: COSIGN_REPOSITORY };

  for (const [where, list] of [
    ['olareg', (c: CosignCase) => oci.cosignSignatures(olaregLoc, world.digests[c], signal, new EnvelopeBudget())],
    ['ECR API', (c: CosignCase) => ecrSource.list(ecrLoc, world.digests[c], signal, new EnvelopeBudget())],
  ] as const) {
    await t.test(`${where}: both storage schemes found and verified`, async (t) => {
      const bundle = await list('bundle');
      t.same(forms(bundle.artifacts), ['bundle'], 'the bundle referrer');
      t.same(bundle.unreadable, []);
      const tag = await list('tag');
      t.same(forms(tag.artifacts), ['simple-signing'], 'the .sig layer');
      t.same((await list('unsigned')).artifacts, [], 'nothing on the unsigned image');
      for (const c of ['bundle', 'tag'] as const) {
        const listing = c === 'bundle' ? bundle : tag;
        const r = verifyCosign(listing.artifacts[0]!, world.digests[c], [other, trusted], {});
        t.ok(r.ok, `${c}: verified by the trusted key`);
        if (r.ok) t.equal(r.authority, 'release');
        if (r.ok && c === 'tag') t.equal(r.reference, `${registry.host}/${COSIGN_REPOSITORY}`, 'docker-reference of the simple-signing payload reported');
        const wrongDigest = verifyCosign(listing.artifacts[0]!, world.digests.unsigned, [trusted], {});
        t.notOk(wrongDigest.ok, `${c}: the same signature does not cover another digest`);
        if (!wrongDigest.ok) t.equal(wrongDigest.code, 'TARGET_MISMATCH');
      }
      const untrusted = await list('other-key');
      const r = verifyCosign(untrusted.artifacts[0]!, world.digests['other-key'], [trusted], {});
      t.notOk(r.ok, 'signed by another key: refused');
      if (!r.ok) t.same(r.tried, [{ authority: 'release', code: 'INTEGRITY', reason: 'not signed by this key' }]);
    });
  }
  t.ok(sandbox.calls('ecr:ListImageReferrers') >= 4 && sandbox.calls('ecr:BatchGetImage') >= 4 && sandbox.calls('layer:GET') >= 3, 'read through the ECR API');

  await t.test('the signature check: key file, KMS key, untrusted key, unsigned', async (t) => {
    const keyPath = join(out, 'trusted.pub');
    writeFileSync(keyPath, world.trustedKeyPem);
    const policyOf = (authority: string) => `mode: enforce
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
checks:
  signature:
    cosign:
      authorities:
        - ${authority}
`;
    const check = signatureCheck({
      cache: new FactCache({ maxEntries: 1000 }),
      ttl,
      source: new EcrSignatureSource(clients),
      oci,
      revocation: new SignerRevocation({ clients, cache, ttlSeconds: 300 }),
      cosign: { ecr: ecrSource, kms: new KmsPublicKeys({ clients, cache: new FactCache({ maxEntries: 10 }), ttlSeconds: 3600 }) },
    });
    const run = async (policyText: string, c: CosignCase) => {
      const compiled = compilePolicy(parsePolicy(policyText, 'policy.yaml'));
      const ref = parseImageReference(`${HOST}/${COSIGN_REPOSITORY}@${world.digests[c]}`);
      const ctx: CheckContext = {
        image: {
          ref,
          ecr: { ...parseEcrHost(HOST)!, repository: COSIGN_REPOSITORY },
          managed: true,
          resolved: { digest: world.digests[c], mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 },
        },
        policy: compiled.forImage('team-a', ref),
        compiled,
        namespace: 'team-a',
        signal: AbortSignal.timeout(10_000),
        deadline: Date.now() + 10_000,
        now: new Date(),
      };
      return check.run(ctx);
    };
    const byKey = `{ name: release, key: { file: ${keyPath} } }`;
    for (const c of ['bundle', 'tag'] as const) {
      const outcome = await run(policyOf(byKey), c);
      t.equal(outcome.status, 'pass', `${c}: admitted by the key file (${outcome.reason})`);
      t.match(outcome.reason, /signed by key .*trusted\.pub \(ecdsa P-256\) \[cosign authority release/);
    }
    sandbox.resetCalls();
    const kms = await run(policyOf(`{ name: kms-release, kms: "${KMS_KEY}" }`), 'bundle');
    t.equal(kms.status, 'pass', `admitted by the KMS key (${kms.reason})`);
    t.match(kms.reason, `kms ${KMS_KEY} (ecdsa P-256)`);
    await run(policyOf(`{ name: kms-release, kms: "${KMS_KEY}" }`), 'tag');
    t.equal(sandbox.calls('kms:GetPublicKey'), 1, 'the KMS public key was read once for two images');

    const other = await run(policyOf(byKey), 'other-key');
    t.equal(other.status, 'fail');
    t.match(
      other.reason,
      /no valid signature from a trusted identity \(1 signature checked: cosign bundle sha256:[0-9a-f]{12}: no authority accepted it \(tried release: not signed by this key\)\)/,
    );
    t.match(other.hint ?? '', 'cosign sign --key');
    const unsigned = await run(policyOf(byKey), 'unsigned');
    t.equal(unsigned.status, 'fail');
    t.match(unsigned.reason, `no cosign signature found on ${world.digests.unsigned.slice(0, 19)}`);
  });
});
