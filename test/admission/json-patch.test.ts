import t from 'tap';
import {
  encodePatch,
  imageSites,
  jsonPointer,
  needsPin,
  pinOperations,
  pinnedReference,
  stringAt,
  type ReplaceOperation,
} from '../../src/admission/json-patch.ts';
import { MAX_CONTAINERS } from '../../src/admission/extract.ts';
import { ECR } from '../fixtures/policy.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

/** RFC 6901 evaluation and RFC 6902 replace, written from the RFCs, to apply what the builder made. */
function applyReplace(doc: unknown, ops: readonly ReplaceOperation[]): unknown {
  const copy = structuredClone(doc);
  for (const op of ops) {
    if (!op.path.startsWith('/')) throw new Error(`not a pointer: ${op.path}`);
    const tokens = op.path
      .slice(1)
      .split('/')
      .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
    let node = copy as Record<string, unknown>;
    for (const token of tokens.slice(0, -1)) node = node[token] as Record<string, unknown>;
    const last = tokens.at(-1)!;
    // replace requires the target to exist (RFC 6902 4.3).
    if (!(last in node)) throw new Error(`replace of a missing member: ${op.path}`);
    node[last] = op.value;
  }
  return copy;
}

const pod = (spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec });

t.test('JSON Pointer escapes ~ before /, so the pointer round-trips', async (t) => {
  t.equal(jsonPointer(['spec', 'containers', 0, 'image']), '/spec/containers/0/image');
  t.equal(jsonPointer(['a/b', 'm~n', '~1']), '/a~1b/m~0n/~01');
  t.equal(jsonPointer([]), '');
  const doc = { 'a/b': { 'm~n': { '~1': 'x' } } };
  t.same(applyReplace(doc, [{ op: 'replace', path: jsonPointer(['a/b', 'm~n', '~1']), value: 'y' }]), { 'a/b': { 'm~n': { '~1': 'y' } } });
});

t.test('init, regular and ephemeral containers each get their exact path', async (t) => {
  const object = pod({
    initContainers: [{ name: 'migrate', image: `${ECR}/migrate:1` }],
    containers: [
      { name: 'app', image: `${ECR}/web:1.4.2` },
      { name: 'side', image: 'docker.io/library/busybox:1.36' },
    ],
    ephemeralContainers: [{ name: 'debug', image: `${ECR}/debug:2` }],
  });
  const sites = imageSites('', 'Pod', object)!;
  t.same(
    sites.map((s) => `${s.containerKind} ${s.containerName} ${jsonPointer(s.path)}`),
    [
      'initContainer migrate /spec/initContainers/0/image',
      'container app /spec/containers/0/image',
      'container side /spec/containers/1/image',
      'ephemeralContainer debug /spec/ephemeralContainers/0/image',
    ],
  );
  for (const s of sites) t.equal(stringAt(object, s.path), s.image, `${jsonPointer(s.path)} reads back the image`);
  const digests = new Map([
    [`${ECR}/migrate:1`, D1],
    [`${ECR}/web:1.4.2`, D2],
    [`${ECR}/debug:2`, D1],
  ]);
  const ops = pinOperations(sites, digests);
  t.same(ops, [
    { op: 'replace', path: '/spec/initContainers/0/image', value: `${ECR}/migrate:1@${D1}` },
    { op: 'replace', path: '/spec/containers/0/image', value: `${ECR}/web:1.4.2@${D2}` },
    { op: 'replace', path: '/spec/ephemeralContainers/0/image', value: `${ECR}/debug:2@${D1}` },
  ]);
  const patched = applyReplace(object, ops) as { spec: { containers: Array<{ image: string }> } };
  t.equal(patched.spec.containers[1]!.image, 'docker.io/library/busybox:1.36', 'an image with no digest resolved is left as written');
});

t.test('workload templates: the path goes through the template (CronJob two levels deep)', async (t) => {
  const cron = { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'r', image: `${ECR}/report:7` }] } } } } } };
  t.same(
    imageSites('batch', 'CronJob', cron)!.map((s) => jsonPointer(s.path)),
    ['/spec/jobTemplate/spec/template/spec/containers/0/image'],
  );
  const deployment = loadAdmissionReview('deployment-create').request.object;
  const sites = imageSites('apps', 'Deployment', deployment)!;
  t.equal(sites.length, 3);
  t.ok(sites.every((s) => jsonPointer(s.path).startsWith('/spec/template/spec/')));
});

t.test('the same image in two containers is replaced at both paths', async (t) => {
  const image = `${ECR}/web:1.4.2`;
  const object = pod({
    containers: [
      { name: 'a', image },
      { name: 'b', image },
    ],
  });
  const ops = pinOperations(imageSites('', 'Pod', object)!, new Map([[image, D1]]));
  t.same(
    ops.map((o) => o.path),
    ['/spec/containers/0/image', '/spec/containers/1/image'],
  );
  t.ok(ops.every((o) => o.value === `${image}@${D1}`));
});

t.test('an image already pinned is kept as written, even with a different tag or a digest the tag no longer names', async (t) => {
  const pinnedOtherTag = `${ECR}/web:1.4.2@${D1}`;
  const stale = `${ECR}/web:latest@${D2}`;
  const byDigest = `${ECR}/web@${D2}`;
  const object = pod({
    containers: [
      { name: 'a', image: pinnedOtherTag },
      { name: 'b', image: stale },
      { name: 'c', image: byDigest },
    ],
  });
  // Even when the resolver (wrongly) offered digests for them, they are not touched.
  const digests = new Map([
    [pinnedOtherTag, D2],
    [stale, D1],
    [byDigest, D1],
  ]);
  t.same(pinOperations(imageSites('', 'Pod', object)!, digests), []);
  t.equal(needsPin(stale), false);
  t.equal(needsPin(`${ECR}/web:1`), true);
  t.equal(needsPin('not a reference!'), false, 'an unreadable reference is left for validation to deny');
});

t.test('implicit latest keeps the text as written and appends the digest', async (t) => {
  t.equal(pinnedReference(`${ECR}/web`, D1), `${ECR}/web@${D1}`);
  t.equal(pinnedReference(`${ECR}/web:1.4.2`, D1), `${ECR}/web:1.4.2@${D1}`);
});

t.test('objects that cannot be read yield no sites (no patch; validation decides)', async (t) => {
  t.equal(imageSites('', 'ConfigMap', { data: {} }), undefined, 'a kind with no pod spec');
  t.equal(imageSites('', 'Pod', { spec: { containers: 'x' } }), undefined);
  t.equal(imageSites('', 'Pod', { spec: { containers: [{ name: 'a', image: 7 }] } }), undefined);
  t.equal(imageSites('', 'Pod', { spec: { containers: [null] } }), undefined);
  t.equal(imageSites('', 'Pod', null), undefined);
  const many = Array.from({ length: MAX_CONTAINERS + 1 }, (_, i) => ({ name: `c${i}`, image: `${ECR}/web:1` }));
  t.equal(imageSites('', 'Pod', { spec: { containers: many } }), undefined, `more than ${MAX_CONTAINERS} containers`);
  t.same(imageSites('', 'Pod', { spec: {} }), [], 'no containers: no sites');
});

t.test('the encoded patch is base64 of the JSON array', async (t) => {
  const ops: ReplaceOperation[] = [{ op: 'replace', path: '/spec/containers/0/image', value: `${ECR}/web:1@${D1}` }];
  t.same(JSON.parse(Buffer.from(encodePatch(ops), 'base64').toString('utf8')), ops);
});
