// Bounds must not fail open: an object the requester sent that cannot be read or is over a
// bound (a Pod with more than 256 containers) is a `fail`, decided by the mode of the policy
// that applies, never by onError (which is for AWS and registry faults only). Fed through the
// real runtime with the AWS sandbox behind it.
import t from 'tap';
import { MAX_CONTAINERS } from '../../src/admission/extract.ts';
import { podRequest, startHarness } from '../helpers/harness.ts';
import { fixture, fullPolicy, HOST } from './helpers.ts';

const GOOD = `${HOST}/app:1.0`;
const OVERRIDES = `overrides:
  - { name: relaxed, namespaces: ["relaxed"], images: ["*"], onError: allow }
  - { name: soft, namespaces: ["soft"], images: ["*"], mode: warn, onError: allow }
  - { name: watch, namespaces: ["watch"], mode: audit, onError: allow }
  - { name: prod-images, namespaces: ["mixed"], images: ["${HOST}/app:*"], mode: enforce }
  - { name: mixed-audit, namespaces: ["mixed"], images: ["*"], mode: audit, onError: allow }
`;

const h = await startHarness({ fixture: fixture(), policy: fullPolicy({ onError: 'allow', extra: OVERRIDES }), budgetMs: 3000 });
t.teardown(() => h.close());

/** A Pod in `namespace` with `n` containers, each running a good, signed, scanned image. */
const overBound = (namespace: string, n = MAX_CONTAINERS + 1) =>
  podRequest(
    Array.from({ length: n }, () => GOOD),
    namespace,
  );

t.test('a Pod with 257 containers is denied under onError allow, and under an override with onError allow', async (t) => {
  h.sandbox.resetCalls();
  for (const namespace of ['team-a', 'relaxed', 'mixed']) {
    const out = await h.runtime.reviewer.review(overBound(namespace));
    t.equal(out.response.allowed, false, `${namespace}: denied`);
    t.equal(out.result, 'deny');
    t.match(
      out.response.status?.message,
      /^ecr-admission denied Pod \S+\/pod-\d+: cannot read the object: more than 256 containers$/,
      `${namespace}: ${out.response.status?.message}`,
    );
    t.equal(out.response.status?.code, 403);
  }
  t.equal(h.sandbox.callLog().length, 0, 'decided without a single AWS call');
  const atBound = await h.runtime.reviewer.review(overBound('team-a', MAX_CONTAINERS));
  t.equal(atBound.response.allowed, true, `${MAX_CONTAINERS} containers of a good image are checked and admitted (control)`);
});

t.test('the mode still applies: warn allows with a warning, audit allows and records', async (t) => {
  const warned = await h.runtime.reviewer.review(overBound('soft'));
  t.same([warned.response.allowed, warned.result], [true, 'warn'], 'warn mode: allowed');
  t.equal(warned.response.warnings?.length, 1);
  t.match(warned.response.warnings?.[0], /^ecr-admission could not read Pod soft\/pod-\d+: cannot read the object: more than 256 containers$/);
  t.ok(warned.response.warnings![0]!.length < 120, 'the warning fits kubectl');

  const audited = await h.runtime.reviewer.review(overBound('watch'));
  t.same([audited.response.allowed, audited.result, audited.response.warnings], [true, 'audit', undefined], 'audit mode: allowed, nothing said to the client');
  t.equal(audited.response.auditAnnotations?.['audit-violations'], 'cannot read the object: more than 256 containers', 'and recorded');
  t.equal(audited.response.auditAnnotations?.policy, 'watch');
});

t.test('other objects that cannot be read, in other kinds, are denied under onError allow too', async (t) => {
  const many = Array.from({ length: 20_000 }, (_, i) => ({ name: `c${i}`, image: GOOD }));
  const deployment = podRequest([GOOD], 'team-a');
  deployment.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
  deployment.object = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { template: { spec: { containers: many } } } };
  deployment.name = 'web';
  const out = await h.runtime.reviewer.review(deployment);
  t.equal(out.response.allowed, false, '20,000 containers in a Deployment template: denied');
  t.equal(out.response.status?.message, 'ecr-admission denied Deployment team-a/web: cannot read the object: more than 256 containers');

  const notAList = podRequest([GOOD], 'relaxed');
  (notAList.object as { spec: unknown }).spec = { containers: GOOD };
  const bad = await h.runtime.reviewer.review(notAList);
  t.equal(bad.response.allowed, false, 'containers that is not a list: denied under an onError allow override');
  t.match(bad.response.status?.message, /cannot read the object: spec\.containers is not a list/);
});
