// cosign signatures behind a real API server (issue 19): images signed by the real cosign CLI
// with a generated key pair, in olareg (policy registries.oci: the referrers API and the
// sha256-<hex>.sig tag) and, with the same bytes, in the AWS sandbox's ECR. The policy accepts
// cosign only (formats: [cosign]) with one key authority given inline as PEM.
import t from 'tap';
import { join } from 'node:path';
import { e2eOutputDir, startOlareg } from '../rig/index.ts';
import { attempt } from '../support/admission.ts';
import { WEBHOOK_NAME } from '../support/chart.ts';
import { ACCOUNT, ECR_HOST, REGION } from '../support/ecr-world.ts';
import { COSIGN_REPOSITORY, buildCosignWorld, type CosignCase } from '../support/cosign-world.ts';
import { startStack } from '../support/stack.ts';
import { manifest, pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const NS = 'team-cosign';
/** An override whose only authority is a KMS key (the sandbox's KMS holds the generated public key). */
const NS_KMS = 'team-cosign-kms';
const KMS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/5e1f0c2d-cosign-e2e`;

t.test('signatures made by cosign sign, through olareg and through the ECR API', async (t) => {
  const out = e2eOutputDir(t, 'scenario-cosign');
  const registry = await startOlareg({ dir: join(out, 'olareg') });
  t.teardown(() => registry.stop());
  const world = await buildCosignWorld(out, registry);

  const stack = await startStack(t, {
    name: 'scenario-cosign',
    out,
    fixture: {
      defaultAccount: ACCOUNT,
      accounts: {
        [ACCOUNT]: {
          regions: { [REGION]: { scanType: 'ENHANCED', repositories: [{ name: COSIGN_REPOSITORY, tagMutability: 'IMMUTABLE', images: world.ecrImages }] } },
        },
      },
      kms: { keys: [{ arn: KMS_KEY, publicKeyPem: world.trustedKeyPem }] },
    },
    values: () => ({
      webhook: { timeoutSeconds: 10, failurePolicy: 'Fail' },
      policy: {
        mode: 'enforce',
        onError: 'deny',
        registries: { ecr: [{ accountId: ACCOUNT, regions: [REGION] }], allow: [], oci: [{ host: registry.host, plainHttp: true }] },
        checks: {
          signature: { formats: ['cosign'], cosign: { authorities: [{ name: 'release', key: { pem: world.trustedKeyPem } }] } },
        },
        overrides: [
          {
            name: 'kms-signed',
            namespaces: [NS_KMS],
            images: ['*'],
            checks: { signature: { formats: ['cosign'], cosign: { authorities: [{ name: 'release-kms', kms: KMS_KEY }] } } },
          },
        ],
      },
    }),
    namespaces: [NS, NS_KMS],
  });
  const { cluster, sandbox, webhook } = stack;
  const olaregImage = (c: CosignCase) => `${registry.host}/${COSIGN_REPOSITORY}:${c}`;
  const ecrImage = (c: CosignCase) => `${ECR_HOST}/${COSIGN_REPOSITORY}:${c}`;

  for (const [where, image] of [
    ['olareg', olaregImage],
    ['ECR', ecrImage],
  ] as const) {
    await t.test(`${where}: a bundle referrer and a .sig tag signature from cosign sign are admitted`, async (t) => {
      sandbox.resetCalls();
      for (const c of ['bundle', 'tag'] as const) {
        const name = `${where.toLowerCase()}-${c}`;
        const run = await cluster.kubectl(['apply', '-f', '-'], manifest(pod(name, image(c)), NS));
        t.equal(run.code, 0, `${c}: kubectl apply admitted\n${run.stderr}`);
        const review = await webhook.waitForReview((r) => r.name === name);
        t.equal(review?.decision, 'allow', `${c}: the webhook admitted it (${review?.decision})`);
        t.equal(review?.images[0]?.digest, world.digests[c], `${c}: on the digest cosign signed`);
        t.equal(review?.images[0]?.results.signature, 'pass', `${c}: signature check passed`);
      }
      if (where === 'ECR') {
        t.ok(sandbox.calls('ecr:ListImageReferrers') >= 2, 'bundles were listed through ECR ListImageReferrers');
        t.ok(sandbox.calls('layer:GET') >= 2, 'bundle and payload blobs were downloaded through GetDownloadUrlForLayer URLs');
      } else {
        t.equal(sandbox.calls('ecr:*'), 0, 'olareg images never touch the ECR API');
      }
    });

    await t.test(`${where}: unsigned, and signed by an untrusted key, are denied`, async (t) => {
      const unsigned = await attempt(() =>
        cluster.core.createNamespacedPod({ namespace: NS, body: pod(`${where.toLowerCase()}-unsigned`, image('unsigned')) }),
      );
      t.equal(unsigned.code, 403, 'unsigned: 403');
      t.match(unsigned.message, `admission webhook "${WEBHOOK_NAME}" denied the request`);
      t.match(unsigned.message, `[signature] no cosign signature found on ${world.digests.unsigned.slice(0, 19)}`);

      const other = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS, body: pod(`${where.toLowerCase()}-other`, image('other-key')) }));
      t.equal(other.code, 403, 'another key: 403');
      t.match(
        other.message,
        /\[signature\] no valid signature from a trusted identity \(1 signature checked: cosign bundle sha256:[0-9a-f]{12}: no authority accepted it \(tried release: not signed by this key\)\)/,
      );
      t.match(other.message, 'cosign sign --key');
    });
  }

  await t.test('a KMS authority: the public key read once with GetPublicKey from the sandbox KMS', async (t) => {
    sandbox.resetCalls();
    for (const c of ['bundle', 'tag'] as const) {
      const outcome = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS_KMS, body: pod(`kms-${c}`, ecrImage(c)) }));
      t.ok(outcome.allowed, `${c}: admitted by the KMS key ${outcome.message ?? ''}`);
    }
    const other = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS_KMS, body: pod('kms-other', ecrImage('other-key')) }));
    t.equal(other.code, 403, 'another key: 403');
    t.match(other.message, 'tried release-kms: not signed by this key');
    t.match(other.message, `cosign sign --key awskms:///${KMS_KEY}`);
    t.equal(sandbox.calls('kms:GetPublicKey'), 1, 'one GetPublicKey for three admissions');
  });
});
