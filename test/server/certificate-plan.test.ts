// The certificate plan on an injected clock, with real keys and certificates: creation,
// renewal under the same CA, and a CA rotation in which the bundle always trusts whatever is
// served (stage -> published -> promote -> retire).
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import {
  bundleOf,
  certificatesIn,
  checkSettings,
  DAY_MS,
  DEFAULT_CERTIFICATE_SETTINGS,
  planCertificates,
  type CertificateSettings,
  type CertificateState,
  type Minter,
} from '../../src/server/certificate-plan.ts';
import { createCertificateAuthority, issueServingCertificate } from '../../src/server/self-signed.ts';

const HOSTS = ['ecr-admission.security-system.svc', 'ecr-admission.security-system.svc.cluster.local'];
const settings: CertificateSettings = { ...DEFAULT_CERTIFICATE_SETTINGS, hosts: HOSTS };
const T0 = Date.parse('2027-01-01T00:00:00Z');

let minted = 0;
const minter: Minter = {
  ca: (notBefore, notAfter) => {
    minted++;
    return createCertificateAuthority({ commonName: 'ecr-admission CA', notBefore, notAfter });
  },
  serving: (ca, hosts, notBefore, notAfter) => issueServingCertificate(ca, { hosts, notBefore, notAfter }),
};

const cert = (pem: string) => new X509Certificate(pem);
const notAfter = (pem: string) => new Date(cert(pem).validTo).getTime();
/** Does one of the bundle's CAs sign the serving certificate? (what the API server checks) */
function bundleTrusts(bundle: string, servingPem: string): boolean {
  const leaf = cert(servingPem);
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).some(
    (pem) => leaf.checkIssued(cert(pem)) && leaf.verify(cert(pem).publicKey),
  );
}

t.test('the settings refuse a CA that could end before its serving certificate is renewed', async (t) => {
  t.equal(checkSettings(settings), undefined, 'the defaults are consistent');
  t.match(checkSettings({ ...settings, caRenewBeforeMs: 20 * DAY_MS }), /CA renewBefore must exceed/);
  t.match(checkSettings({ ...settings, hosts: [] }), /no host names/);
  t.match(checkSettings({ ...settings, servingRenewBeforeMs: settings.servingValidityMs }), /serving renewBefore/);
});

t.test('an empty Secret gets a CA and a serving certificate for the Service names', async (t) => {
  const { state, changes } = await planCertificates({}, '', T0, settings, minter);
  t.match(changes, [/created a CA/]);
  const serving = cert(state.serving!.cert);
  t.ok(serving.checkIssued(cert(state.ca!.cert)), 'issued by the CA');
  for (const h of HOSTS) t.ok(serving.checkHost(h), `for ${h}`);
  t.ok(Math.abs(notAfter(state.serving!.cert) - (T0 + settings.servingValidityMs)) < 1000, 'serving validity from the settings');
  t.ok(Math.abs(notAfter(state.ca!.cert) - (T0 + settings.caValidityMs)) < 1000, 'CA validity from the settings');
  const again = await planCertificates(state, bundleOf(state), T0 + DAY_MS, settings, minter);
  t.same(again.changes, [], 'a day later nothing changes');
  t.equal(again.state, state, 'the same state');
});

t.test('the serving certificate is renewed before expiry under the same CA: no bundle change', async (t) => {
  const first = (await planCertificates({}, '', T0, settings, minter)).state;
  const renewAt = notAfter(first.serving!.cert) - settings.servingRenewBeforeMs + 1000;
  const quiet = await planCertificates(first, bundleOf(first), renewAt - 2000, settings, minter);
  t.same(quiet.changes, [], 'not before the renewal window');
  const { state, changes } = await planCertificates(first, bundleOf(first), renewAt, settings, minter);
  t.match(changes, [/renewed the serving certificate/]);
  t.not(state.serving!.cert, first.serving!.cert, 'a new certificate');
  t.equal(bundleOf(state), bundleOf(first), 'the bundle is unchanged');
  t.ok(bundleTrusts(bundleOf(first), state.serving!.cert), 'the bundle already in the API server trusts it');
});

t.test('a serving certificate for other host names, or from another CA, is replaced', async (t) => {
  const first = (await planCertificates({}, '', T0, settings, minter)).state;
  const moved = await planCertificates(first, bundleOf(first), T0 + 1000, { ...settings, hosts: ['other.ns.svc'] }, minter);
  t.match(moved.changes, [/issued a serving certificate/]);
  t.ok(cert(moved.state.serving!.cert).checkHost('other.ns.svc'), 'for the new name');
  const foreign = (await planCertificates({}, '', T0, settings, minter)).state;
  const mixed: CertificateState = { ...first, serving: foreign.serving! };
  const fixed = await planCertificates(mixed, bundleOf(first), T0 + 1000, settings, minter);
  t.ok(bundleTrusts(bundleOf(first), fixed.state.serving!.cert), "reissued under the Secret's CA");
});

t.test('CA rotation: at every step the bundle trusts what is served, old and new CA overlap', async (t) => {
  let state = (await planCertificates({}, '', T0, settings, minter)).state;
  const oldCa = state.ca!.cert;
  let live = bundleOf(state); // what the API server has: updated only when the test "patches"
  let now = notAfter(oldCa) - settings.caRenewBeforeMs + 1000; // the CA nears its end
  const step = async (label: string) => {
    const plan = await planCertificates(state, live, now, settings, minter);
    state = plan.state;
    t.ok(bundleTrusts(live, state.serving!.cert), `${label}: the live bundle trusts the served certificate`);
    return plan.changes;
  };

  t.match(await step('stage'), [/staged a next CA \(the CA nears its end\)/]);
  t.equal(state.ca!.cert, oldCa, 'the old CA still signs');
  t.equal(certificatesIn(bundleOf(state)).length, 2, 'the bundle holds old and next');

  now += 5000;
  t.same(await step('not published yet'), [], 'no promotion while the live bundle lacks the next CA');
  now += settings.promoteAfterMs * 10;
  t.same(await step('still not published'), [], 'however long it takes');

  live = bundleOf(state); // a replica patched the webhook configuration
  t.match(await step('published'), [/next CA is in the live caBundle/]);
  now += settings.promoteAfterMs - 1000;
  t.same(await step('propagating'), [], 'not promoted before promoteAfter');
  now += 1000;
  t.match(await step('promote'), [/promoted the next CA/]);
  t.not(state.ca!.cert, oldCa, 'the new CA signs');
  t.ok(bundleTrusts(live, state.serving!.cert), 'the published bundle trusts the new serving certificate');
  const bundle = bundleOf(state);
  t.equal(certificatesIn(bundle).length, 2, 'new and previous CA both in the bundle');
  t.ok(certificatesIn(bundle).includes(certificatesIn(oldCa)[0]!), 'the old CA is still trusted (replicas still serving its certificate)');
  live = bundle;

  now += settings.retireAfterMs - 1000;
  t.same(await step('overlap'), [], 'the old CA stays until retireAfter');
  now += 1000;
  t.match(await step('retire'), [/retired the previous CA/]);
  t.equal(certificatesIn(bundleOf(state)).length, 1, 'only the new CA is left');
  t.ok(notAfter(state.ca!.cert) > now + settings.caValidityMs - DAY_MS, 'the new CA has a full lifetime');
});

t.test("an operator's rotation request stages a new CA at once, and only one", async (t) => {
  const first = (await planCertificates({}, '', T0, settings, minter)).state;
  const before = minted;
  const { state, changes } = await planCertificates({ ...first, rotateRequested: true }, bundleOf(first), T0 + 1000, settings, minter);
  t.match(changes, [/staged a next CA \(rotation requested\)/]);
  t.equal(state.rotateRequested, false, 'the request is consumed');
  t.equal(minted - before, 1, 'one new CA');
  const twice = await planCertificates({ ...state, rotateRequested: true }, bundleOf(first), T0 + 2000, settings, minter);
  t.equal(twice.state.next!.cert, state.next!.cert, 'a request during a rotation does not restart it');
  t.equal(minted - before, 1, 'no second CA');
});

t.test("near the CA's end, without publication, the serving certificate is not re-issued on every poll", async (t) => {
  const first = (await planCertificates({}, '', T0, settings, minter)).state;
  const late = notAfter(first.ca!.cert) - settings.servingRenewBeforeMs + DAY_MS; // inside both windows
  const a = await planCertificates(first, bundleOf(first), late, settings, minter);
  t.ok(notAfter(a.state.serving!.cert) <= notAfter(first.ca!.cert), 'never outlives its CA');
  const b = await planCertificates(a.state, bundleOf(first), late + 5000, settings, minter);
  t.equal(b.state.serving!.cert, a.state.serving!.cert, 'kept');
});
