// The chart ships the Sigstore public-good trusted root (issue 19): off by default (no object,
// no mount); on, a ConfigMap whose trusted_root.json is the shipped file, byte for byte, mounted
// where a policy's checks.signature.cosign.trustedRoot names it, and read by the product as a
// trusted root. A cosign public key is accepted as a trust store PEM (key files).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrustedRoot } from '../../src/cosign/index.ts';
import { CHART_DIR, helmTemplate, only, renderChart, type KubeObject } from './helm.ts';

interface Deployment extends KubeObject {
  spec: {
    template: {
      spec: {
        containers: Array<{ name: string; volumeMounts?: Array<{ name: string; mountPath: string }> }>;
        volumes?: Array<{ name: string; configMap?: { name: string } }>;
      };
    };
  };
}

const shipped = readFileSync(join(CHART_DIR, 'files', 'sigstore-trusted-root.json'), 'utf8');

t.test('off by default: no ConfigMap, no mount', async (t) => {
  const objects = renderChart();
  t.notOk(
    objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-sigstore')),
    'no sigstore ConfigMap',
  );
  const pod = only<Deployment>(objects, 'Deployment').spec.template.spec;
  t.notOk(pod.volumes?.some((v) => v.name === 'sigstore'));
});

t.test('on: the shipped root, mounted at /etc/ecr-admission/sigstore/trusted_root.json', async (t) => {
  const objects = renderChart({ setJson: ['sigstore.publicGoodTrustedRoot=true'] });
  const cm = only<KubeObject & { data: Record<string, string> }>(objects, 'ConfigMap', '-sigstore');
  t.equal(cm.data['trusted_root.json']?.trim(), shipped.trim(), 'the shipped file');
  const root = parseTrustedRoot(Buffer.from(cm.data['trusted_root.json']!), 'rendered root');
  t.ok(root.material.certificateAuthorities.length >= 1 && root.material.tlogs.length >= 1, 'a trusted root with Fulcio and Rekor');
  const pod = only<Deployment>(objects, 'Deployment').spec.template.spec;
  t.equal(pod.volumes?.find((v) => v.name === 'sigstore')?.configMap?.name, cm.metadata.name);
  const server = pod.containers[0]!;
  t.same(
    server.volumeMounts?.filter((m) => m.name === 'sigstore').map((m) => m.mountPath),
    ['/etc/ecr-admission/sigstore'],
  );
});

t.test('a cosign public key is a valid trust store PEM; other text is not', async (t) => {
  const key = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n';
  t.equal(helmTemplate({ setJson: [`trustStores.pems={"cosign.pub":${JSON.stringify(key)}}`] }).status, 0);
  t.not(helmTemplate({ setJson: ['trustStores.pems={"cosign.pub":"not a pem"}'] }).status, 0);
});
