// A reference with a tag and a digest whose tag moved after it was pinned (pinning.mode
// pods-and-templates, `ecr-admission pin`): a node pulls it by its digest, so it is judged as
// REPO@DIGEST, under the policy chosen without the tag. Scale-ups of a pinned template keep
// working when the tag moves, and an override scoped to the tag never applies to a digest the
// tag no longer names.
import t, { type Test } from 'tap';
import { imageDigest, ociImage } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION, resultOf, startHarness } from '../helpers/harness.ts';
import { CONTINUOUS_SCAN, XZ_CRITICAL, ecrFixture } from '../helpers/ecr-fixture.ts';

const stable = ociImage({ seed: 'stable-1', tags: ['stable'], ...CONTINUOUS_SCAN });
const stableNext = ociImage({ seed: 'stable-2', tags: [], ...CONTINUOUS_SCAN });
const vulnerable = ociImage({ seed: 'dev-1', tags: ['dev-1'], ...CONTINUOUS_SCAN, findings: [XZ_CRITICAL] });
const devNext = ociImage({ seed: 'dev-2', tags: [], ...CONTINUOUS_SCAN });

const fixture = () => ecrFixture([{ name: 'web', tagMutability: 'MUTABLE', images: [stable, stableNext, vulnerable, devNext] }]);

const TAG_TTL_S = 2;
// Development tags are only audited; everything else is enforced.
const POLICY = `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  vulnerabilities: {}
cache:
  ttlSeconds:
    mutableTag: ${TAG_TTL_S}
overrides:
  - { name: dev-audit, images: ["${HOST}/web:dev-*"], mode: audit }
`;

/** A webhook runtime on this test's clock, and a way to move a tag to the image at `index` of
 *  the repository and let the tag's cached digest expire. */
async function world(test: Test, options: { policy?: string; budgetMs?: number } = {}) {
  let now = Date.now();
  const h = await startHarness({
    fixture: fixture(),
    policy: options.policy ?? POLICY,
    now: () => now,
    ...(options.budgetMs !== undefined && { budgetMs: options.budgetMs }),
  });
  test.teardown(() => h.close());
  const expireTags = () => (now += (TAG_TTL_S + 1) * 1000);
  const moveTag = (tag: string, index: number, options: { expire: boolean } = { expire: true }) => {
    h.sandbox.update((f) => {
      f.accounts[ACCOUNT]!.regions[REGION]!.repositories[0]!.images.forEach((image, i) => {
        image.tags = (image.tags ?? []).filter((name) => name !== tag);
        if (i === index) image.tags.push(tag);
      });
    });
    if (options.expire) expireTags();
  };
  return { h, moveTag, expireTags };
}

t.test('a pinned reference whose tag moved is judged as its digest: still admitted, with a warning', async (t) => {
  const { h, moveTag } = await world(t);
  const pinned = `${HOST}/web:stable@${imageDigest(stable)}`;
  t.equal((await h.reviewPod([pinned])).response.allowed, true, 'the tag names the digest: admitted');

  moveTag('stable', 1);
  const after = await h.reviewPod([pinned]);
  t.equal(after.response.allowed, true, 'a scale-up after the tag moved: admitted, as the digest alone would be');
  t.equal(after.images[0]?.digest, imageDigest(stable), 'judged on the digest the reference pins (the one a node pulls)');
  t.match(resultOf(after, 'digest')?.reason, /tag stable points to sha256:\w+, not sha256:\w+: judged as the digest alone/);
  t.match(
    after.response.warnings?.join('\n'),
    /ecr-admission: c0: its tag names another digest now: judged as sha256:\w{12} alone; re-pin or drop the tag/,
    'whoever applies it is told the tag moved',
  );
  t.equal(resultOf(after, 'vulnerabilities')?.status, 'pass', 'and every check ran on that digest');
});

t.test('an override scoped to the tag does not follow a digest the tag no longer names', async (t) => {
  const { h, moveTag } = await world(t);
  const pinned = `${HOST}/web:dev-1@${imageDigest(vulnerable)}`;
  const before = await h.reviewPod([pinned]);
  t.equal(before.response.allowed, true, 'dev-1 names the vulnerable digest: the dev-audit override applies (audited)');
  t.equal(before.images[0]?.policy.name, 'dev-audit');

  moveTag('dev-1', 3);
  const after = await h.reviewPod([pinned]);
  t.equal(after.response.allowed, false, 'dev-1 moved: the digest alone is under the enforced default, and its CRITICAL finding denies');
  t.equal(after.images[0]?.policy.name, 'default');
  t.match(after.response.status?.message, /\[vulnerabilities\].*CVE-2024-3094/);
  t.match(resultOf(after, 'digest')?.reason, /tag dev-1 points to sha256:\w+, not sha256:\w+: judged as the digest alone/, 'the log line says why');
  const byHand = await h.reviewPod([`${HOST}/web@${imageDigest(vulnerable)}`]);
  t.equal(byHand.response.allowed, false, 'the same as the digest written by hand');
});

t.test('the digest alone has the whole deadline: a slow check of the form as written cannot time it out', async (t) => {
  // Under onError: allow an AWS timeout admits. Had the digest alone been checked only after the
  // form as written had finished, a requester could write a moved tag in front of a vulnerable
  // digest and let a slow check of that first form (here posture's GetLifecyclePolicy) spend
  // the deadline: the digest's own checks would then time out and admit (attacker review).
  const { h, moveTag } = await world(t, {
    budgetMs: 1_000,
    policy: `
onError: allow
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  vulnerabilities: {}
  posture: { require: [lifecyclePolicy], action: warn }
`,
  });
  h.sandbox.setLatency((op) => (op === 'ecr:GetLifecyclePolicy' ? 3_000 : 0));
  moveTag('dev-1', 3);
  const byHand = await h.reviewPod([`${HOST}/web@${imageDigest(vulnerable)}`], 'hand');
  t.equal(byHand.response.allowed, false, 'the digest by hand: its CRITICAL finding denies within the deadline');
  const pinned = await h.reviewPod([`${HOST}/web:dev-1@${imageDigest(vulnerable)}`], 'pinned');
  t.equal(pinned.response.allowed, false, 'the moved tag in front of it: denied the same');
  t.equal(resultOf(pinned, 'vulnerabilities')?.status, 'fail', 'on its finding, not a timeout');
});

t.test('a tag the cache said named the digest that moves during the admission: denied once, then judged as the digest', async (t) => {
  // The digest alone is checked beside the form as written unless the cache knows the tag names
  // the digest. When that entry expires between the look and the digest check (a window a
  // requester can aim at), checking the digest alone only then would give it less of the
  // deadline: the form as written stands instead, and its mismatch fails (review of this change).
  const { h, moveTag, expireTags } = await world(t);
  const pinned = `${HOST}/web:stable@${imageDigest(stable)}`;
  t.equal((await h.reviewPod([pinned])).response.allowed, true, 'the tag names the digest, and the cache knows it');
  moveTag('stable', 1, { expire: false });
  // Another namespace, so that no remembered result answers. The review has looked the tag up
  // in the cache by the time reviewPod returns; the tag's entry expires before its digest check.
  const racing = h.reviewPod([pinned], 'team-b');
  expireTags();
  const raced = await racing;
  t.equal(raced.response.allowed, false, 'the form as written stands: its tag and digest disagree');
  t.match(raced.response.status?.message, /\[digest\] the tag and digest in the reference name different images/);
  const next = await h.reviewPod([pinned], 'team-c');
  t.equal(next.response.allowed, true, 'the next admission is judged as the digest alone');
  t.match(resultOf(next, 'digest')?.reason, /judged as the digest alone/);
});

t.test('a pinned reference whose tag was deleted is judged as its digest; a deleted digest is still denied', async (t) => {
  const { h, moveTag } = await world(t);
  const pinned = `${HOST}/web:stable@${imageDigest(stable)}`;
  t.equal((await h.reviewPod([pinned])).response.allowed, true, 'the tag names the digest: admitted');

  moveTag('stable', -1);
  const after = await h.reviewPod([pinned]);
  t.equal(after.response.allowed, true, 'a scale-up after the tag was deleted: admitted, as the digest alone would be');
  t.equal(after.images[0]?.digest, imageDigest(stable));
  t.match(resultOf(after, 'digest')?.reason, /tag stable names no image in web now: judged as the digest alone/);
  t.match(after.response.warnings?.join('\n'), /ecr-admission: c0: its tag names no image now: judged as sha256:\w{12} alone/);
  t.equal(resultOf(after, 'vulnerabilities')?.status, 'pass', 'and every check ran on that digest');

  // A deleted tag does not make a tag-scoped override follow the digest either.
  const dev = `${HOST}/web:dev-1@${imageDigest(vulnerable)}`;
  t.equal((await h.reviewPod([dev], 'team-b')).response.allowed, true, 'dev-1 names the vulnerable digest: audited under dev-audit');
  moveTag('dev-1', -1);
  const devAfter = await h.reviewPod([dev], 'team-b');
  t.equal(devAfter.response.allowed, false, 'dev-1 deleted: the digest alone is enforced, and its CRITICAL finding denies');
  t.equal(devAfter.images[0]?.policy.name, 'default');

  // An image deleted with its tag (never looked up before): the digest alone is not found, and
  // that denies.
  h.sandbox.update((f) => {
    const repo = f.accounts[ACCOUNT]!.regions[REGION]!.repositories[0]!;
    repo.images = repo.images.filter((image) => imageDigest(image) !== imageDigest(devNext));
  });
  const gone = await h.reviewPod([`${HOST}/web:dev-2@${imageDigest(devNext)}`], 'team-c');
  t.equal(gone.response.allowed, false, 'neither the tag nor the digest exists: denied');
  t.match(gone.response.status?.message, /\[digest\] digest sha256:\w+ not found in repository web/);
});

t.test('the first admission of a pinned reference is remembered: its two forms share the manifest entry', async (t) => {
  // Both forms load the digest's manifest at once (the tag's BatchGetImage returns it too): when
  // one replaced the other's cache entry, the verdict's facts were no longer the entries read,
  // and the next admission was evaluated again (FactCache.prime).
  const { h } = await world(t);
  const pinned = `${HOST}/web:stable@${imageDigest(stable)}`;
  const hits = async () => {
    const text = await h.metrics.registry.metrics();
    return Number(/^ecr_admission_cache_events_total\{fact="check-results",event="hit"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };
  t.equal((await h.reviewPod([pinned])).response.allowed, true, 'a cold admission');
  t.equal(await hits(), 0);
  t.equal((await h.reviewPod([pinned])).response.allowed, true);
  t.equal(await hits(), 1, 'the second is answered from the remembered result');
});

t.test('a tag lookup cut off by the deadline does not let the tag choose the policy', async (t) => {
  // Judged as written, a tag that matched the dev-audit override and whose lookup was slowed
  // past the deadline was audited, so any digest was admitted behind it, depending on which of
  // two timers fired first (attacker review: 4 of 6 admitted). A digest result that is not a
  // pass means the tag did not choose the policy: the digest alone is judged.
  const { h } = await world(t, { budgetMs: 1_000 });
  const byHand = await h.reviewPod([`${HOST}/web@${imageDigest(vulnerable)}`], 'hand');
  t.equal(byHand.response.allowed, false, 'the digest written by hand: its CRITICAL finding denies');
  h.sandbox.setLatency((op) => (op === 'ecr:BatchGetImage' ? 1_500 : 0));
  const reviews = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => h.reviewPod([`${HOST}/web:dev-x${i}@${imageDigest(vulnerable)}`], `team-${i}`)));
  for (const [i, review] of reviews.entries()) {
    t.equal(review.response.allowed, false, `dev-x${i}: denied like the digest by hand`);
    t.equal(review.images[0]?.policy.name, 'default', 'under the policy chosen without the tag');
    t.match(resultOf(review, 'vulnerabilities')?.status, 'fail');
  }
  t.match(reviews[0]?.response.warnings?.join('\n'), /its tag could not be read: judged as sha256:\w{12} alone/);

  // A tag that really names the digest, unread this time: judged as the digest alone, and that
  // verdict is not remembered: once the tag can be read, its override applies again.
  const real = `${HOST}/web:dev-1@${imageDigest(vulnerable)}`;
  const slow = await h.reviewPod([real], 'team-z');
  t.equal(slow.images[0]?.policy.name, 'default', 'unread: the digest alone');
  h.sandbox.setLatency(() => 0);
  const read = await h.reviewPod([real], 'team-z');
  t.equal(read.images[0]?.policy.name, 'dev-audit', 'read: the override the tag chooses (nothing remembered from the unread round)');
  t.equal(read.response.allowed, true, 'audited');
});
