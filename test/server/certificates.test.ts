// The certificate Secret's layout (what replicas of different versions read and write, and what
// an operator annotates): a state survives the round trip, foreign annotations are kept, the
// rotation request is read and cleared, and a Secret the chart rendered empty is "no CA yet".
// The manager against a real API server: test/e2e/scenarios/lockout.test.ts, ca-rotation.test.ts.
import t from 'tap';
import { planCertificates, bundleOf, DEFAULT_CERTIFICATE_SETTINGS, type Minter } from '../../src/server/certificate-plan.ts';
import { ROTATE_ANNOTATION, secretFromState, stateFromSecret, type SecretDocument } from '../../src/server/certificates.ts';
import { createCertificateAuthority, issueServingCertificate } from '../../src/server/self-signed.ts';

const minter: Minter = {
  ca: (notBefore, notAfter) => createCertificateAuthority({ commonName: 'test CA', notBefore, notAfter }),
  serving: (ca, hosts, notBefore, notAfter) => issueServingCertificate(ca, { hosts, notBefore, notAfter }),
};
const settings = { ...DEFAULT_CERTIFICATE_SETTINGS, hosts: ['svc.ns.svc'] };
const empty: SecretDocument = { resourceVersion: '7', data: {}, annotations: { 'ecr-admission.io/managed-by': 'webhook', 'meta.helm.sh/release-name': 'r' } };
const T0 = Date.parse('2027-01-01T00:00:00Z');

t.test("the chart's empty Secret is a state with no CA", async (t) => {
  t.same(stateFromSecret(empty), {});
});

t.test('a rotation in progress survives the round trip through the Secret', async (t) => {
  const created = (await planCertificates({}, '', T0, settings, minter)).state;
  const staged = (await planCertificates({ ...created, rotateRequested: true }, bundleOf(created), T0 + 1000, settings, minter)).state;
  const published = (await planCertificates(staged, bundleOf(staged), T0 + 2000, settings, minter)).state;
  const promoted = (await planCertificates(published, bundleOf(published), T0 + 2000 + settings.promoteAfterMs, settings, minter)).state;
  for (const [label, state] of [
    ['staged', published],
    ['promoted', promoted],
  ] as const) {
    const secret = secretFromState(state, empty);
    t.equal(secret.resourceVersion, '7', `${label}: written against the version read`);
    const { rotateRequested: _consumed, ...written } = state;
    t.same(stateFromSecret(secret), written, `${label}: read back as written`);
    t.equal(secret.annotations['meta.helm.sh/release-name'], 'r', `${label}: Helm's annotations kept`);
    t.equal(secret.data['ca-bundle.crt'], bundleOf(state), `${label}: the bundle for people and the helm test pod`);
  }
  t.ok(secretFromState(published, empty).annotations['ecr-admission.io/next-ca-published-at'], 'publication time recorded');
  t.ok(secretFromState(promoted, empty).data['previous-ca.crt'], 'the previous CA kept after promotion');
});

t.test("an operator's rotation request is read, and cleared once taken", async (t) => {
  const created = (await planCertificates({}, '', T0, settings, minter)).state;
  const requested: SecretDocument = { ...secretFromState(created, empty), annotations: { ...empty.annotations, [ROTATE_ANNOTATION]: 'now' } };
  const state = stateFromSecret(requested);
  t.equal(state.rotateRequested, true, 'any non-empty value requests it');
  const taken = (await planCertificates(state, bundleOf(state), T0 + 1000, settings, minter)).state;
  t.notOk(ROTATE_ANNOTATION in secretFromState(taken, requested).annotations, 'the annotation is removed with the write that stages the CA');
  t.equal(stateFromSecret({ ...requested, annotations: { [ROTATE_ANNOTATION]: '' } }).rotateRequested, undefined, 'an empty value is no request');
});
