// Smoke test of the e2e rig: proves each peer is the real thing and that the paths the e2e
// scenarios depend on work end to end on 127.0.0.1:
//  - kube-apiserver (on etcd) accepts a Namespace and a Pod (which stays Pending: no scheduler),
//    and calls a ValidatingWebhookConfiguration's clientConfig.url, surfacing its denial;
//  - olareg takes an image pushed by oras, notation signs it in both envelope formats, and the
//    referrers API lists both signatures; notation verify accepts them.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, ApiException, CoreV1Api, VersionApi } from '@kubernetes/client-node';
import {
  e2eOutputDir,
  kubeSelector,
  listeningSockets,
  cosign,
  notation,
  notationEnv,
  oras,
  repoRoot,
  rigBinDir,
  startApiServer,
  startEtcd,
  startOlareg,
  writeSmallImage,
} from './rig/index.ts';
import { startDenyingWebhook } from './rig-smoke/denying-webhook.ts';

const pinned: Record<string, string | undefined> = Object.fromEntries(
  readFileSync(join(repoRoot, 'scripts/rig/versions.env'), 'utf8')
    .split('\n')
    .map((line) => /^([A-Z_]+)=(\S+)/.exec(line))
    .filter((match) => match !== null)
    .map((match): [string, string] => [match[1] ?? '', match[2] ?? '']),
);

/** The pinned release this run selects: ECR_ADMISSION_E2E_KUBE (mk/e2e.mk runs this file on both), unset: the newest. */
function selectedPinnedVersion(): string | undefined {
  const selector = kubeSelector();
  if (selector === undefined) return pinned.KUBERNETES_VERSION;
  const wanted = selector.startsWith('v') ? selector : `v${selector}`;
  return [pinned.KUBERNETES_VERSION, pinned.KUBERNETES_OLDEST_VERSION].find((v) => v === wanted || v?.startsWith(`${wanted}.`));
}

const denialMessage = 'rig smoke webhook: pods are denied';
const notarySignatureType = 'application/vnd.cncf.notary.signature';

t.test('rig smoke', async (t) => {
  const out = e2eOutputDir(t, 'rig-smoke');
  await rigBinDir();

  const etcd = await startEtcd(join(out, 'etcd'));
  t.teardown(() => etcd.stop());
  const api = await startApiServer({ etcdUrl: etcd.url, dir: join(out, 'kube-apiserver') });
  t.teardown(() => api.stop());
  const registry = await startOlareg({ dir: join(out, 'olareg') });
  t.teardown(() => registry.stop());

  await t.test('every peer listens on 127.0.0.1 only', async (t) => {
    for (const [name, pid] of [
      ['etcd', etcd.pid],
      ['kube-apiserver', api.pid],
      ['olareg', registry.pid],
    ] as const) {
      const sockets = listeningSockets(pid);
      t.ok(sockets.length > 0, `${name} listens`);
      t.same(
        sockets.filter((s) => s.address !== '127.0.0.1'),
        [],
        `${name}: no listener off 127.0.0.1 (${JSON.stringify(sockets)})`,
      );
    }
    t.ok(
      listeningSockets(api.pid).some((s) => `https://127.0.0.1:${s.port}` === api.url),
      'API server on its secure port',
    );
  });

  await t.test('API server is the pinned release and serves Pods', async (t) => {
    const version = await api.kubeConfig.makeApiClient(VersionApi).getCode();
    t.equal(version.gitVersion, selectedPinnedVersion(), 'reports the pinned version ECR_ADMISSION_E2E_KUBE selects');

    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'rig-smoke', labels: { 'rig-smoke': 'deny' } } } });
    await core.createNamespacedPod({ namespace: 'rig-smoke', body: podNamed('before-webhook') });
    const pod = await core.readNamespacedPod({ namespace: 'rig-smoke', name: 'before-webhook' });
    t.equal(pod.status?.phase, 'Pending', 'Pod is Pending');
    t.notOk(pod.spec?.nodeName, 'no scheduler: Pod never bound to a node');
  });

  await t.test('API server calls a webhook by url and surfaces its denial', async (t) => {
    const webhook = await startDenyingWebhook(join(out, 'webhook'), denialMessage);
    t.teardown(() => webhook.close());
    t.same(
      listeningSockets(process.pid)
        .filter((s) => s.port === webhook.port)
        .map((s) => s.address),
      ['127.0.0.1'],
    );

    await api.kubeConfig.makeApiClient(AdmissionregistrationV1Api).createValidatingWebhookConfiguration({
      body: {
        metadata: { name: 'rig-smoke-deny-pods' },
        webhooks: [
          {
            name: 'deny-pods.rig-smoke.ecr-admission.test',
            clientConfig: { url: webhook.url, caBundle: Buffer.from(webhook.caPem).toString('base64') },
            rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
            namespaceSelector: { matchLabels: { 'rig-smoke': 'deny' } },
            failurePolicy: 'Fail',
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            timeoutSeconds: 5,
          },
        ],
      },
    });

    // The API server picks new webhook configurations up from its informer within a moment;
    // Pods created before that are admitted, so retry with fresh names until the denial shows.
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    const deadline = Date.now() + 20_000;
    let denial: ApiException<unknown> | undefined;
    for (let attempt = 0; denial === undefined && Date.now() < deadline; attempt++) {
      try {
        await core.createNamespacedPod({ namespace: 'rig-smoke', body: podNamed(`denied-${attempt}`) });
        await new Promise((resolve) => setTimeout(resolve, 200));
      } catch (error) {
        if (!(error instanceof ApiException)) throw error;
        denial = error;
      }
    }
    if (denial === undefined) throw new Error('webhook never denied a Pod');
    t.equal(denial.code, 403, 'denied with 403');
    const body = typeof denial.body === 'string' ? denial.body : JSON.stringify(denial.body);
    const status = JSON.parse(body) as { message?: string; reason?: string };
    t.match(status.message, 'admission webhook "deny-pods.rig-smoke.ecr-admission.test" denied the request');
    t.match(status.message, denialMessage, 'API server error carries the webhook message');

    const seen = webhook.reviews.at(-1);
    t.equal(seen?.request?.kind?.kind, 'Pod', 'webhook got an AdmissionReview for a Pod');
    t.equal(seen?.request?.operation, 'CREATE');
    t.equal(seen?.request?.namespace, 'rig-smoke');
  });

  await t.test('olareg + oras + notation: two signatures listed by the referrers API', async (t) => {
    const image = writeSmallImage(join(out, 'image'));
    const repository = `${registry.host}/rig/smoke`;
    const pushed = await oras(['push', '--plain-http', '--format', 'json', `${repository}:v1`, ...image.orasPushArgs], { cwd: image.dir });
    const digest = (JSON.parse(pushed.stdout) as { digest: string }).digest;
    t.match(digest, /^sha256:[0-9a-f]{64}$/, 'oras pushed an image');
    const manifest = (await (
      await fetch(`${registry.url}/v2/rig/smoke/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
    ).json()) as { config: { mediaType: string }; layers: unknown[] };
    t.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json', 'an image manifest, not a bare artifact');
    t.equal(manifest.layers.length, 1);

    const env = notationEnv(join(out, 'notation'));
    await notation(['cert', 'generate-test', '--default', 'rig-smoke'], env);
    for (const format of ['jws', 'cose']) {
      await notation(['sign', '--insecure-registry', '--signature-format', format, '--force-referrers-tag=false', `${repository}@${digest}`], env);
    }

    const referrers = (await (await fetch(`${registry.url}/v2/rig/smoke/referrers/${digest}`)).json()) as {
      manifests: { digest: string; artifactType?: string }[];
    };
    const signatures = referrers.manifests.filter((m) => m.artifactType === notarySignatureType);
    t.equal(signatures.length, 2, 'two notary signatures among the referrers');
    const envelopeTypes = [];
    for (const signature of signatures) {
      const sigManifest = (await (
        await fetch(`${registry.url}/v2/rig/smoke/manifests/${signature.digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
      ).json()) as {
        subject?: { digest: string };
        layers: { mediaType: string }[];
      };
      t.equal(sigManifest.subject?.digest, digest, 'signature points at the image');
      envelopeTypes.push(...sigManifest.layers.map((l) => l.mediaType));
    }
    t.same(envelopeTypes.sort(), ['application/cose', 'application/jose+json'], 'one JWS and one COSE envelope');

    const policyPath = join(out, 'notation', 'trustpolicy.json');
    writeFileSync(
      policyPath,
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          { name: 'rig-smoke', registryScopes: ['*'], signatureVerification: { level: 'strict' }, trustStores: ['ca:rig-smoke'], trustedIdentities: ['*'] },
        ],
      }),
    );
    await notation(['policy', 'import', '--force', policyPath], env);
    const verified = await notation(['verify', '--insecure-registry', `${repository}@${digest}`], env);
    t.match(verified.stdout, 'Successfully verified signature', 'notation verifies its own signature');
  });

  // issue 19: cosign, built into its own cache key.
  await t.test('cosign is the pinned release', async (t) => {
    const version = await cosign(['version'], { HOME: out });
    t.match(version.stdout + version.stderr, new RegExp(`GitVersion:\\s+${pinned.COSIGN_VERSION ?? 'unpinned'}\\n`), `cosign ${pinned.COSIGN_VERSION}`);
  });
});

function podNamed(name: string) {
  return {
    metadata: { name },
    spec: { containers: [{ name: 'main', image: 'registry.example/rig/smoke:v1' }] },
  };
}
