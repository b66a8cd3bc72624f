// The namespace-label guard (issue 21): with an opt-out label turned on, setting it (or, in
// optIn mode, removing the opt-in label) switches the image checks off for a namespace, so only
// the configured groups and users may. Real AdmissionReview JSON through the webhook app, decided
// by decide(); the requester's userInfo is what the API server sends, and is read fail-closed.
import t from 'tap';
import { buildWebhookApp } from '../../src/server/app.ts';
import { createReviewer } from '../../src/admission/pipeline.ts';
import { namespaceLabelGuardFromEnv, type NamespaceLabelGuard } from '../../src/admission/namespace-labels.ts';
import { originCheck } from '../../src/checks/origin.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { compileText, silentLogger } from '../fixtures/policy.ts';

const OPT_OUT = 'ecr-admission.io/ignore';
const OPT_IN = 'ecr-admission.io/enforce';
const ENV = {
  ECR_ADMISSION_OPT_OUT_LABEL: OPT_OUT,
  ECR_ADMISSION_LABEL_EDITOR_GROUPS: '["platform-admins"]',
  ECR_ADMISSION_LABEL_EDITOR_USERS: '["arn:aws:iam::111122223333:role/admin"]',
};
// team-a is excluded by the policy: the guard still applies (a Namespace's labels decide its scope).
const POLICY = 'mode: enforce\nnamespaces:\n  exclude: [team-a]\n';

function webhook(t: { teardown(fn: () => unknown): void }, guard: NamespaceLabelGuard | undefined) {
  const policy = compileText(POLICY);
  const metrics = createMetrics();
  const reviewer = createReviewer({
    policy: () => policy,
    checks: [originCheck],
    budgetMs: 2000,
    logger: silentLogger,
    ...(guard && { namespaceLabels: guard }),
  });
  const app = buildWebhookApp({ reviewer, logger: silentLogger, metrics });
  t.teardown(() => app.close());
  return async (review: object) => {
    const res = await app.inject({ method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(review) });
    return res.json<{ response: { allowed: boolean; status?: { code: number; message: string }; auditAnnotations?: Record<string, string> } }>().response;
  };
}

const namespace = (labels?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'team-a', uid: 'e1f0d2c4-0000-4000-8000-000000000001', ...(labels && { labels: { 'kubernetes.io/metadata.name': 'team-a', ...labels } }) },
});

function review(operation: 'CREATE' | 'UPDATE', object: object, oldObject: object | null, userInfo: unknown, subResource?: string) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Namespace' },
      resource: { group: '', version: 'v1', resource: 'namespaces' },
      requestKind: { group: '', version: 'v1', kind: 'Namespace' },
      ...(subResource !== undefined && { subResource, requestSubResource: subResource }),
      name: 'team-a',
      namespace: 'team-a',
      operation,
      userInfo,
      object,
      oldObject,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: operation === 'CREATE' ? 'CreateOptions' : 'UpdateOptions' },
    },
  };
}

const developer = { username: 'dev@example.com', uid: '1', groups: ['developers', 'system:authenticated'] };
const admin = { username: 'someone', groups: ['platform-admins', 'system:authenticated'] };
const adminRole = { username: 'arn:aws:iam::111122223333:role/admin', groups: ['system:authenticated'] };

t.test('setting the opt-out label: denied to others, allowed to the editors', async (t) => {
  const send = webhook(t, namespaceLabelGuardFromEnv(ENV));
  const created = await send(review('CREATE', namespace({ [OPT_OUT]: 'true' }), null, developer));
  t.equal(created.allowed, false, 'a CREATE with the label, by a developer');
  t.equal(created.status?.code, 403);
  t.match(
    created.status?.message,
    /ecr-admission denied Namespace team-a: ecr-admission\.io\/ignore=true set would switch the image checks off for it; dev@example\.com may not \(allowed: groups platform-admins; users arn:aws:iam::111122223333:role\/admin\)/,
  );
  t.equal(created.auditAnnotations?.['decision'], 'deny');

  const added = await send(review('UPDATE', namespace({ [OPT_OUT]: 'true', team: 'a' }), namespace({ team: 'a' }), developer));
  t.equal(added.allowed, false, 'an UPDATE adding it, by a developer');
  const changed = await send(review('UPDATE', namespace({ [OPT_OUT]: 'true' }), namespace({ [OPT_OUT]: 'false' }), developer));
  t.equal(changed.allowed, false, 'an UPDATE changing it to "true"');

  t.equal((await send(review('UPDATE', namespace({ [OPT_OUT]: 'true' }), namespace({}), admin))).allowed, true, 'allowed to a member of platform-admins');
  t.equal((await send(review('CREATE', namespace({ [OPT_OUT]: 'true' }), null, adminRole))).allowed, true, 'allowed to the listed user');
});

t.test('the status and finalize subresources are guarded like the Namespace (attacker review)', async (t) => {
  // kubectl patch ns team-a --subresource=status -p '{"metadata":{"labels":{...}}}' keeps the
  // label (kube-apiserver 1.32 and 1.37), and so does a PUT to /finalize.
  const send = webhook(t, namespaceLabelGuardFromEnv(ENV));
  for (const subResource of ['status', 'finalize']) {
    const byDeveloper = await send(review('UPDATE', namespace({ [OPT_OUT]: 'true' }), namespace({}), developer, subResource));
    t.equal(byDeveloper.allowed, false, `${subResource}: setting the opt-out label is denied to a developer`);
    t.match(byDeveloper.status?.message, /ecr-admission\.io\/ignore=true set would switch the image checks off/);
    t.equal(
      (await send(review('UPDATE', namespace({ [OPT_OUT]: 'true' }), namespace({}), admin, subResource))).allowed,
      true,
      `${subResource}: allowed to an editor`,
    );
    t.equal(
      (await send(review('UPDATE', namespace({ team: 'a' }), namespace({}), developer, subResource))).allowed,
      true,
      `${subResource}: other changes pass`,
    );
  }
});

t.test("changes that keep the checks are not the guard's business", async (t) => {
  const send = webhook(t, namespaceLabelGuardFromEnv(ENV));
  for (const [name, r] of [
    ['a CREATE without the label', review('CREATE', namespace({ team: 'a' }), null, developer)],
    ['an UPDATE keeping the label', review('UPDATE', namespace({ [OPT_OUT]: 'true', team: 'b' }), namespace({ [OPT_OUT]: 'true', team: 'a' }), developer)],
    ['an UPDATE removing it', review('UPDATE', namespace({}), namespace({ [OPT_OUT]: 'true' }), developer)],
    ['a value other than "true"', review('CREATE', namespace({ [OPT_OUT]: 'yes' }), null, developer)],
  ] as const) {
    const response = await send(r);
    t.equal(response.allowed, true, name);
    t.equal(response.auditAnnotations?.['decision'], 'skipped', `${name}: skipped`);
  }
});

t.test('optIn mode: taking the opt-in label off is guarded too', async (t) => {
  const send = webhook(t, namespaceLabelGuardFromEnv({ ...ENV, ECR_ADMISSION_OPT_IN_LABEL: OPT_IN }));
  const removed = await send(review('UPDATE', namespace({ team: 'a' }), namespace({ [OPT_IN]: 'true', team: 'a' }), developer));
  t.equal(removed.allowed, false);
  t.match(removed.status?.message, /ecr-admission\.io\/enforce=true removed/);
  t.equal((await send(review('UPDATE', namespace({ [OPT_IN]: 'true' }), namespace({}), developer))).allowed, true, "adding it (more checks) is anyone's");
  t.equal((await send(review('UPDATE', namespace({}), namespace({ [OPT_IN]: 'true' }), admin))).allowed, true, 'an editor may remove it');
});

t.test('userInfo the requester cannot vouch for counts as nobody (fail closed)', async (t) => {
  const send = webhook(t, namespaceLabelGuardFromEnv(ENV));
  const optOut = namespace({ [OPT_OUT]: 'true' });
  for (const [name, userInfo] of [
    ['no userInfo', undefined],
    ['groups not a list', { username: 'x', groups: 'platform-admins' }],
    ['groups with a non-string', { username: 'x', groups: ['platform-admins', 7] }],
    ['more groups than the bound', { username: 'x', groups: [...Array.from({ length: 300 }, (_, i) => `g${i}`), 'platform-admins'] }],
    ['a group name that only contains the editors group', { username: 'x', groups: ['platform-admins-not'] }],
  ] as const) {
    const response = await send(review('CREATE', optOut, null, userInfo));
    t.equal(response.allowed, false, `${name}: denied`);
  }
});

t.test('without an opt-out label, Namespace requests are not checked', async (t) => {
  const send = webhook(t, namespaceLabelGuardFromEnv({}));
  const response = await send(review('CREATE', namespace({ [OPT_OUT]: 'true' }), null, developer));
  t.equal(response.allowed, true);
  t.equal(response.auditAnnotations?.['decision'], 'skipped');
});

t.test("the guard's settings are checked at start", async (t) => {
  t.throws(
    () => namespaceLabelGuardFromEnv({ ...ENV, ECR_ADMISSION_LABEL_EDITOR_GROUPS: 'platform-admins' }),
    /ECR_ADMISSION_LABEL_EDITOR_GROUPS must be a JSON array/,
  );
  t.throws(
    () => namespaceLabelGuardFromEnv({ ...ENV, ECR_ADMISSION_LABEL_EDITOR_USERS: '[1]' }),
    /ECR_ADMISSION_LABEL_EDITOR_USERS must be a JSON array of at most 256 non-empty strings/,
  );
  t.throws(() => namespaceLabelGuardFromEnv({ ...ENV, ECR_ADMISSION_OPT_OUT_LABEL: 'not a label' }), /is not a label key/);
  t.same([...namespaceLabelGuardFromEnv(ENV)!.groups], ['platform-admins']);
});
