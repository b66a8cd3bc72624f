// Signatures made by the real notation CLI, verified by the webhook behind a real API server:
//  - in olareg (a non-ECR registry, policy registries.oci), found through the OCI referrers API
//    (signed with --force-referrers-tag=false, so no sha256-<hex> tag exists to fall back on);
//  - the same image and signature bytes, read back from olareg and served by the AWS sandbox as
//    ECR images and referrers (ListImageReferrers + GetDownloadUrlForLayer).
// The trust store is notation's generated test certificate (type ca); the trusted identity is
// its x509.subject.
import t from 'tap';
import { join } from 'node:path';
import { e2eOutputDir, startOlareg } from '../rig/index.ts';
import { attempt } from '../support/admission.ts';
import { WEBHOOK_NAME } from '../support/chart.ts';
import { ACCOUNT, ECR_HOST, REGION } from '../support/ecr-world.ts';
import { NOTATION_REPOSITORY, buildNotationWorld, type NotationCase } from '../support/notation-world.ts';
import { startStack } from '../support/stack.ts';
import { manifest, pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const NS = 'team-notation';
/** onError: allow here: facts that cannot be established admit with a warning. */
const NS_LENIENT = 'team-notation-lenient';

t.test('signatures made by notation sign, through olareg and through the ECR API', async (t) => {
  const out = e2eOutputDir(t, 'scenario-notation');
  const registry = await startOlareg({ dir: join(out, 'olareg') });
  t.teardown(() => registry.stop());
  const world = await buildNotationWorld(out, registry);

  t.same(
    world.envelopeTypes,
    { jws: ['application/jose+json'], cose: ['application/cose'], unsigned: [], 'other-key': ['application/jose+json'] },
    'notation wrote one JWS and one COSE signature (and one by another key)',
  );
  t.same([...world.tags].sort(), ['cose', 'jws', 'other-key', 'unsigned'], 'no sha256-<hex> tag: signatures are reachable only through the referrers API');
  t.match(world.trustedIdentity, /^x509\.subject: .*CN=e2e-release/, `trusted identity ${world.trustedIdentity}`);

  const stack = await startStack(t, {
    name: 'scenario-notation',
    out,
    fixture: {
      defaultAccount: ACCOUNT,
      accounts: {
        [ACCOUNT]: {
          regions: { [REGION]: { scanType: 'ENHANCED', repositories: [{ name: NOTATION_REPOSITORY, tagMutability: 'IMMUTABLE', images: world.ecrImages }] } },
        },
      },
    },
    values: () => ({
      webhook: { timeoutSeconds: 10, failurePolicy: 'Fail' },
      trustStores: { pems: { 'notation-e2e.pem': world.trustedCertPem } },
      policy: {
        mode: 'enforce',
        onError: 'deny',
        registries: { ecr: [{ accountId: ACCOUNT, regions: [REGION] }], allow: [], oci: [{ host: registry.host, plainHttp: true }] },
        checks: {
          immutability: true,
          signature: { trustStores: [{ type: 'ca', path: '/etc/ecr-admission/trust/notation-e2e.pem' }], trustedIdentities: [world.trustedIdentity] },
          vulnerabilities: { denySeverities: ['CRITICAL'], notScanned: 'deny' },
        },
        overrides: [{ name: 'lenient-on-error', namespaces: [NS_LENIENT], images: ['*'], onError: 'allow' }],
      },
    }),
    namespaces: [NS, NS_LENIENT],
  });
  const { cluster, sandbox, webhook } = stack;
  const olaregImage = (c: NotationCase) => `${registry.host}/${NOTATION_REPOSITORY}:${c}`;
  const ecrImage = (c: NotationCase) => `${ECR_HOST}/${NOTATION_REPOSITORY}:${c}`;

  for (const [where, image] of [
    ['olareg', olaregImage],
    ['ECR', ecrImage],
  ] as const) {
    await t.test(`${where}: JWS and COSE signatures from notation sign are verified`, async (t) => {
      sandbox.resetCalls();
      for (const format of ['jws', 'cose'] as const) {
        const name = `${where.toLowerCase()}-${format}`;
        const run = await cluster.kubectl(['apply', '-f', '-'], manifest(pod(name, image(format)), NS));
        t.equal(run.code, 0, `${format}: kubectl apply admitted\n${run.stderr}`);
        const review = await webhook.waitForReview((r) => r.name === name);
        // notation's test certificate names no OCSP or CRL endpoint: nothing to check, no warning.
        t.equal(review?.decision, 'allow', `${format}: the webhook admitted it without warnings (${review?.decision})`);
        t.equal(review?.images[0]?.digest, world.digests[format], `${format}: on the digest notation signed`);
        t.equal(review?.images[0]?.results.signature, 'pass', `${format}: signature check passed`);
      }
      if (where === 'ECR') {
        t.ok(sandbox.calls('ecr:ListImageReferrers') >= 2, 'signatures were listed through ECR ListImageReferrers');
        t.ok(sandbox.calls('layer:GET') >= 2, 'envelopes were downloaded through GetDownloadUrlForLayer URLs');
      } else {
        t.equal(sandbox.calls('ecr:*'), 0, 'olareg images never touch the ECR API');
      }
    });

    await t.test(`${where}: unsigned, and signed by a key the trust store does not hold, are rejected`, async (t) => {
      const unsigned = await attempt(() =>
        cluster.core.createNamespacedPod({ namespace: NS, body: pod(`${where.toLowerCase()}-unsigned`, image('unsigned')) }),
      );
      t.equal(unsigned.code, 403, 'unsigned: 403');
      t.match(unsigned.message, `admission webhook "${WEBHOOK_NAME}" denied the request`);
      t.match(unsigned.message, `container "app" ${image('unsigned')}`);

      const other = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS, body: pod(`${where.toLowerCase()}-other`, image('other-key')) }));
      t.equal(other.code, 403, 'another key: 403');
      t.match(
        other.message,
        '[signature] no valid signature from a trusted identity (1 signature checked: the chain (ending at "C=US, ST=WA, L=Seattle, O=Notary, CN=e2e-other") leads to no certificate in the ca trust stores "notation-e2e.pem")',
      );
    });

    // olareg answers the referrers API of an image without referrers with `"manifests": null`
    // (not the empty list the distribution spec asks for); the webhook must read that as "no
    // signature" (a failure), never as an AWS-style error that onError: allow would admit.
    await t.test(`${where}: an unsigned image is a signature failure, whatever onError says`, async (t) => {
      const unsigned = await attempt(() =>
        cluster.core.createNamespacedPod({ namespace: NS, body: pod(`${where.toLowerCase()}-unsigned-reason`, image('unsigned')), dryRun: 'All' }),
      );
      t.match(unsigned.message, `[signature] no Notation signature found on ${world.digests.unsigned.slice(0, 19)}`, 'the reason is: not signed');
      const lenient = await attempt(() =>
        cluster.core.createNamespacedPod({ namespace: NS_LENIENT, body: pod(`${where.toLowerCase()}-unsigned-lenient`, image('unsigned')), dryRun: 'All' }),
      );
      t.equal(lenient.code, 403, 'denied in an onError: allow namespace too: a missing signature is not an AWS error');
    });
  }

  await t.test('by digest, as a careful deployer writes it', async (t) => {
    const byDigest = `${registry.host}/${NOTATION_REPOSITORY}@${world.digests.cose}`;
    const outcome = await attempt(() => cluster.core.createNamespacedPod({ namespace: NS, body: pod('olareg-by-digest', byDigest) }));
    t.ok(outcome.allowed, `admitted ${outcome.message ?? ''}`);
  });
});
