// pinning.requireOnPods on the validating path, through the reviewer and the AWS sandbox.
import t from 'tap';
import { ociImage, imageDigest, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION, podRequest, startHarness } from '../helpers/harness.ts';

const web = ociImage({ seed: 'req-web', tags: ['1.4.2'] });
const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: 'web', tagMutability: 'IMMUTABLE', images: [web] }] } } } },
});
const policy = (pinning: string, extra = '') => `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
  allow: ["docker.io/library/*"]
pinning:
${pinning}
${extra}`;

t.test('requireOnPods: a tag-only ECR image of a Pod is denied, saying the mutating webhook was bypassed or down', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('  requireOnPods: true') });
  t.teardown(() => h.close());
  const denied = await h.reviewPod([`${HOST}/web:1.4.2`]);
  t.equal(denied.response.allowed, false);
  t.match(
    denied.response.status?.message,
    /\[digest\] the image reached the webhook without a digest: the ecr-admission mutating webhook \(digest pinning\) was bypassed or down/,
  );
  t.match(denied.response.status?.message, /MutatingWebhookConfiguration/);

  const pinned = await h.reviewPod([`${HOST}/web:1.4.2@${imageDigest(web)}`]);
  t.equal(pinned.response.allowed, true, 'the pinned Pod is admitted');
  const hub = await h.reviewPod(['busybox:1.36']);
  t.equal(hub.response.allowed, true, 'an image pinning leaves alone is not required to be pinned');

  const deployment = await h.runtime.reviewer.review({
    uid: 'dep-1',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    operation: 'CREATE',
    namespace: 'team-a',
    name: 'web',
    object: { spec: { template: { spec: { containers: [{ name: 'app', image: `${HOST}/web:1.4.2` }] } } } },
  });
  t.equal(deployment.response.allowed, true, 'a template keeps its tag: only Pods are required to be pinned');
});

t.test('requireOnPods under warn mode warns; without it nothing changes', async (t) => {
  const warn = await startHarness({ fixture: fixture(), policy: policy('  requireOnPods: true', 'mode: warn') });
  t.teardown(() => warn.close());
  const out = await warn.reviewPod([`${HOST}/web:1.4.2`]);
  t.equal(out.response.allowed, true);
  t.match(out.response.warnings?.join('\n'), /without a digest/);

  const off = await startHarness({ fixture: fixture(), policy: policy('  requireOnPods: false') });
  t.teardown(() => off.close());
  t.equal((await off.reviewPod([`${HOST}/web:1.4.2`])).response.allowed, true);
});

t.test('requireOnPods with pinning.mode off says that nothing adds the digest', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('  mode: off\n  requireOnPods: true') });
  t.teardown(() => h.close());
  const out = await h.runtime.reviewer.review(podRequest([`${HOST}/web:1.4.2`]));
  t.equal(out.response.allowed, false);
  t.match(out.response.status?.message, /pinning\.mode is off, so nothing adds it/);
});

t.test('requireOnPods and remembered check results: a template checked first does not let the Pod through', async (t) => {
  // The image's results are remembered by (policy, namespace, image) (check-memo.ts); the
  // requireOnPods failure belongs to the request (a Pod), so it is added per request and never
  // remembered with the results, in either order.
  const h = await startHarness({ fixture: fixture(), policy: policy('  requireOnPods: true') });
  t.teardown(() => h.close());
  const template = { spec: { template: { spec: { containers: [{ name: 'app', image: `${HOST}/web:1.4.2` }] } } } };
  const review = (uid: string) =>
    h.runtime.reviewer.review({
      uid,
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      operation: 'CREATE',
      namespace: 'team-a',
      name: 'web',
      object: template,
    });
  t.equal((await review('dep-first')).response.allowed, true, 'the template is admitted with its tag');
  const pod = await h.reviewPod([`${HOST}/web:1.4.2`]);
  t.equal(pod.response.allowed, false, 'the Pod with the same image is still denied');
  t.match(pod.response.status?.message, /without a digest/);
  t.equal((await review('dep-again')).response.allowed, true, 'and the Pod’s denial is not remembered for the template');
});
