// Where image volumes are found, for every kind with a pod spec: the validating webhook's
// extraction and the mutating webhook's patch paths come from the same walk, so a reference one
// sees the other pins; and `ecr-admission pin` (which reads the same sites) rewrites it in place.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { extractImages, POD_SPEC_PATHS } from '../../src/admission/extract.ts';
import { imageSites, jsonPointer } from '../../src/admission/json-patch.ts';
import { readManifest, rewriteManifest } from '../../src/cli/pin-manifests.ts';

const APP = 'registry.example.com/app:1';
const PAYLOAD = 'registry.example.com/payload:2';

/** An object of `kind` whose pod spec (at its path) is `spec`. */
function objectAt(path: readonly string[], spec: unknown): Record<string, unknown> {
  return path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), spec) as Record<string, unknown>;
}

const spec = () => ({
  containers: [{ name: 'app', image: APP }],
  volumes: [
    { name: 'scratch', emptyDir: {} },
    { name: 'payload', image: { reference: PAYLOAD, pullPolicy: 'IfNotPresent' } },
    { name: 'config', configMap: { name: 'c' }, image: null },
  ],
});

t.test('every kind: the image volume is extracted, and its site is the reference path', async (t) => {
  for (const [key, path] of Object.entries(POD_SPEC_PATHS)) {
    const [group = '', kind = ''] = key.split('/');
    const object = objectAt(path, spec());
    const extracted = extractImages(group, kind, object);
    t.same(
      extracted,
      {
        handled: true,
        images: [
          { containerKind: 'container', containerName: 'app', image: APP },
          { containerKind: 'imageVolume', containerName: 'payload', image: PAYLOAD },
        ],
      },
      `${kind}: extracted`,
    );
    t.same(
      imageSites(group, kind, object)?.map((s) => [s.containerKind, s.containerName, jsonPointer(s.path), s.image]),
      [
        ['container', 'app', `/${path.join('/')}/containers/0/image`, APP],
        ['imageVolume', 'payload', `/${path.join('/')}/volumes/1/image/reference`, PAYLOAD],
      ],
      `${kind}: sites`,
    );
  }
});

t.test('an unreadable image volume makes the object unreadable to both', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['volume not an object', ['payload'], /spec\.volumes\[0\] is not an object/],
    ['reference a number', [{ name: 'v', image: { reference: 7 } }], /spec\.volumes\[0\]\.image has no reference string/],
    ['image a string', [{ name: 'v', image: PAYLOAD }], /spec\.volumes\[0\]\.image has no reference string/],
    ['volumes an object', { v: { image: { reference: PAYLOAD } } }, /spec\.volumes is not a list/],
  ];
  for (const [name, volumes, expected] of cases) {
    const object = { spec: { containers: [{ name: 'app', image: APP }], volumes } };
    t.match(extractImages('', 'Pod', object), { handled: true, error: expected }, `${name}: extraction`);
    t.equal(imageSites('', 'Pod', object), undefined, `${name}: no sites, no patch`);
  }
  const unnamed = extractImages('', 'Pod', { spec: { containers: [], volumes: [{ image: { reference: PAYLOAD } }] } });
  t.same(
    unnamed,
    { handled: true, images: [{ containerKind: 'imageVolume', containerName: '#0', image: PAYLOAD }] },
    'a volume without a name: named by its index',
  );
});

t.test('`ecr-admission pin` reads and rewrites an image volume reference in place', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-image-volumes-'));
  const file = join(dir, 'deployment.yaml');
  const text = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: ${APP}
      volumes:
        - name: payload
          image:
            reference: "${PAYLOAD}" # the model weights
            pullPolicy: IfNotPresent
`;
  writeFileSync(file, text);
  const manifest = readManifest(file);
  t.same(
    manifest.images.map((m) => [m.where.replace(`${file}#`, ''), m.image]),
    [
      ['1 Deployment web container app', APP],
      ['1 Deployment web volume payload', PAYLOAD],
    ],
  );
  const digest = `sha256:${'b'.repeat(64)}`;
  const rewritten = rewriteManifest(manifest, new Map([[PAYLOAD, `${PAYLOAD}@${digest}`]]));
  t.equal(rewritten, text.replace(`"${PAYLOAD}"`, `"${PAYLOAD}@${digest}"`), 'only the reference changes, in its own quoting, comment kept');
});
