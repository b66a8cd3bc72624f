// A tag can be reused: ECR lets an image be deleted (BatchDeleteImage, a lifecycle rule) and a
// new one pushed under the same tag, even in an IMMUTABLE repository. Until Pods are pinned to
// the verified digest, a tag's digest is trusted from cache no longer than the mutableTag TTL,
// whatever ttlSeconds.immutableTag says; and the UPDATE shortcut skips an unchanged tag only
// while its digest is fresh in the cache and that digest recently passed. Real runtime, AWS
// sandbox, and the fact cache's injected clock (no sleeps).
import t from 'tap';
import { imageDigest, ociImage } from '../../src/dev/sandbox/index.ts';
import type { AdmissionRequest } from '../../src/admission/codec.ts';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { ACCOUNT, fixture, fullPolicy, HOST, IMAGES, REGION } from './helpers.ts';

const MUTABLE_TTL_S = 15;
const GOOD = `${HOST}/app:1.0`;
/** What the attacker pushes as app:1.0 once the signed image is deleted: unsigned. */
const REPLACEMENT = ociImage({ seed: 'tag-reuse-replacement', tags: ['1.0'], scanStatus: { status: 'ACTIVE' } });
// immutableTag set explicitly to its old default: it must not lengthen the trust.
const POLICY = fullPolicy({ extra: `cache:\n  ttlSeconds:\n    mutableTag: ${MUTABLE_TTL_S}\n    immutableTag: 3600\n` });

async function start(teardown: (close: () => Promise<void>) => void) {
  let clock = Date.now();
  const h = await startHarness({ fixture: fixture(), policy: POLICY, budgetMs: 3000, now: () => clock });
  teardown(() => h.close());
  const advance = (ms: number) => {
    clock += ms;
  };
  /** BatchDeleteImage of the signed image, then a push of an unsigned one as app:1.0. */
  const reuseTag = () =>
    h.sandbox.update((f) => {
      const repo = f.accounts[ACCOUNT]!.regions[REGION]!.repositories.find((r) => r.name === 'app')!;
      if (repo.tagMutability !== 'IMMUTABLE') throw new Error('the app repository must be IMMUTABLE');
      repo.images = repo.images.filter((i) => imageDigest(i) !== imageDigest(IMAGES.good));
      repo.images.push(REPLACEMENT);
    });
  return { h, advance, reuseTag };
}

let uid = 0;
/** A Deployment UPDATE in `namespace` whose old and new templates run `oldImages` and `newImages`. */
function deploymentUpdate(oldImages: string[], newImages: string[], namespace = 'team-a'): AdmissionRequest {
  uid++;
  const object = (images: string[], generation: number) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace, generation },
    spec: { replicas: generation, template: { spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } } },
  });
  return {
    uid: `tag-reuse-${uid}`,
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    operation: 'UPDATE',
    namespace,
    name: 'web',
    object: object(newImages, 2),
    oldObject: object(oldImages, 1),
  };
}

t.test('a tag deleted and re-pushed in an IMMUTABLE repository is re-resolved once the mutableTag TTL has passed', async (t) => {
  const { h, advance, reuseTag } = await start((close) => t.teardown(close));
  const first = await h.reviewPod([GOOD]);
  t.equal(first.response.allowed, true, 'the signed image is admitted');
  t.equal(first.images[0]?.digest, imageDigest(IMAGES.good));
  t.equal(resultOf(first, 'immutability')?.status, 'pass', 'in an IMMUTABLE repository');

  reuseTag();
  advance(MUTABLE_TTL_S * 1000 - 1);
  const within = await h.reviewPod([GOOD]);
  t.equal(within.images[0]?.digest, imageDigest(IMAGES.good), 'within the mutableTag TTL the cached digest still answers (the window pinning will close)');

  h.sandbox.resetCalls();
  advance(1);
  const after = await h.reviewPod([GOOD]);
  t.ok(h.sandbox.calls('ecr:BatchGetImage') >= 1, 'at the TTL the tag is asked of ECR again');
  t.equal(after.images[0]?.digest, imageDigest(REPLACEMENT), 'and resolves to the re-pushed image');
  t.equal(after.response.allowed, false, 'which is denied');
  t.match(resultOf(after, 'signature')?.reason, /no Notation signature found/, "for its own missing signature, not the old digest's verdict");
});

t.test('an UPDATE keeps an unchanged tag unchecked only while its cached digest is fresh and passed', async (t) => {
  const { h, advance, reuseTag } = await start((close) => t.teardown(close));
  t.equal((await h.reviewPod([GOOD])).response.allowed, true, 'a CREATE checks and admits app:1.0');

  advance(1000);
  const soon = await h.runtime.reviewer.review(deploymentUpdate([GOOD], [GOOD]));
  t.equal(soon.result, 'skipped', 'a second later an UPDATE that keeps it (a scale) is not re-decided');

  const elsewhere = await h.runtime.reviewer.review(deploymentUpdate([GOOD], [GOOD], 'team-b'));
  t.equal(elsewhere.result, 'allow', 'in a namespace where it never passed, the unchanged tag is checked');

  reuseTag();
  advance(MUTABLE_TTL_S * 1000);
  h.sandbox.resetCalls();
  const later = await h.runtime.reviewer.review(deploymentUpdate([GOOD], [GOOD]));
  t.not(later.result, 'skipped', 'once the cached digest has expired, the unchanged tag is checked like a CREATE');
  t.ok(h.sandbox.calls('ecr:BatchGetImage') >= 1, 'its tag is resolved again');
  t.equal(later.images[0]?.digest, imageDigest(REPLACEMENT), 'to the re-pushed image');
  t.equal(later.response.allowed, false, 'which is denied');

  const again = await h.runtime.reviewer.review(deploymentUpdate([GOOD], [GOOD]));
  t.equal(again.response.allowed, false, 'and stays denied: a fresh digest that did not pass is no reason to skip');

  const pinned = `${HOST}/app@${imageDigest(IMAGES.vulnerable)}`;
  advance(24 * 3600 * 1000);
  const byDigest = await h.runtime.reviewer.review(deploymentUpdate([pinned], [pinned]));
  t.equal(byDigest.result, 'skipped', 'a digest reference the old object had keeps the shortcut: it names the same bytes forever');
});
