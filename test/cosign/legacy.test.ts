// cosign's older simple-signing layer read as a Sigstore bundle (src/cosign/legacy.ts), with
// real Sigstore material: the conformance suite's happy-path-v0.1 bundle (a Fulcio certificate
// and a Rekor entry with its signed entry timestamp) rewritten into the annotations cosign puts
// on a .sig layer (dev.cosignproject.cosign/signature, dev.sigstore.cosign/certificate and
// /bundle). Verified keyless against the public-good root; a forged SET, a missing Rekor
// bundle, and shape errors are refused.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { exactMatcher, legacyBundle, parseTrustedRoot, verifyWithAuthority, type Authority } from '../../src/cosign/index.ts';

const dir = new URL('../fixtures/cosign/conformance/', import.meta.url);
const A_TXT = readFileSync(new URL('a.txt', dir));
const v01 = JSON.parse(readFileSync(new URL('happy-path-v0.1/bundle.sigstore.json', dir), 'utf8')) as {
  verificationMaterial: {
    x509CertificateChain: { certificates: Array<{ rawBytes: string }> };
    tlogEntries: Array<{
      logIndex: string;
      logId: { keyId: string };
      integratedTime: string;
      inclusionPromise: { signedEntryTimestamp: string };
      canonicalizedBody: string;
    }>;
  };
  messageSignature: { signature: string };
};
const root = parseTrustedRoot(readFileSync(new URL('../../chart/ecr-admission/files/sigstore-trusted-root.json', import.meta.url)), 'public-good').material;
const ci: Authority = {
  kind: 'keyless',
  name: 'ci',
  issuer: exactMatcher('https://token.actions.githubusercontent.com'),
  subject: exactMatcher(
    'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
  ),
  describe: 'ci',
};

const entry = v01.verificationMaterial.tlogEntries[0]!;
const certPem = new X509Certificate(Buffer.from(v01.verificationMaterial.x509CertificateChain.certificates[0]!.rawBytes, 'base64')).toString();
const rekor = (over: Partial<{ SignedEntryTimestamp: string }> = {}) =>
  JSON.stringify({
    SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp,
    Payload: {
      body: entry.canonicalizedBody,
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex),
      logID: Buffer.from(entry.logId.keyId, 'base64').toString('hex'),
    },
    ...over,
  });
const annotations = (over: Record<string, string | undefined> = {}) =>
  Object.fromEntries(
    Object.entries({
      'dev.cosignproject.cosign/signature': v01.messageSignature.signature,
      'dev.sigstore.cosign/certificate': certPem,
      'dev.sigstore.cosign/bundle': rekor(),
      ...over,
    }).filter((e): e is [string, string] => e[1] !== undefined),
  );

t.test('a keyless simple-signing layer with its Rekor bundle verifies', async (t) => {
  const legacy = legacyBundle(A_TXT, annotations());
  if (!legacy.ok) return t.fail(legacy.reason);
  t.equal(legacy.bundle.verificationMaterial.tlogEntries.length, 1);
  const v = verifyWithAuthority({ bundle: legacy.bundle, payload: A_TXT }, ci, { trustMaterial: root });
  t.ok(v.ok, v.ok ? '' : v.failure.reason);
});

t.test('without the Rekor bundle, a keyless layer has no log entry: refused', async (t) => {
  const legacy = legacyBundle(A_TXT, annotations({ 'dev.sigstore.cosign/bundle': undefined }));
  if (!legacy.ok) return t.fail(legacy.reason);
  const v = verifyWithAuthority({ bundle: legacy.bundle, payload: A_TXT }, ci, { trustMaterial: root });
  t.notOk(v.ok);
  if (!v.ok) t.match(v.failure.reason, /timestamp|tlog/i);
});

t.test('a forged signed entry timestamp is refused', async (t) => {
  const set = Buffer.from(entry.inclusionPromise.signedEntryTimestamp, 'base64');
  set[set.length - 5] = set[set.length - 5]! ^ 0xff;
  const legacy = legacyBundle(A_TXT, annotations({ 'dev.sigstore.cosign/bundle': rekor({ SignedEntryTimestamp: set.toString('base64') }) }));
  if (!legacy.ok) return t.fail(legacy.reason);
  t.notOk(verifyWithAuthority({ bundle: legacy.bundle, payload: A_TXT }, ci, { trustMaterial: root }).ok);
});

t.test('another payload under the same annotations is refused', async (t) => {
  const other = Buffer.from('not a.txt');
  const legacy = legacyBundle(other, annotations());
  if (!legacy.ok) return t.fail(legacy.reason);
  t.notOk(verifyWithAuthority({ bundle: legacy.bundle, payload: other }, ci, { trustMaterial: root }).ok);
});

t.test('shape errors are reasons, never exceptions', async (t) => {
  const reason = (a: Record<string, string>) => {
    const r = legacyBundle(A_TXT, a);
    return r.ok ? 'ok' : r.reason;
  };
  t.match(reason({}), /no dev\.cosignproject\.cosign\/signature annotation/);
  t.match(reason(annotations({ 'dev.cosignproject.cosign/signature': 'not base64!' })), /not a base64 signature/);
  t.match(reason(annotations({ 'dev.sigstore.cosign/certificate': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' })), /cannot be read/);
  t.match(reason(annotations({ 'dev.sigstore.cosign/bundle': '{"SignedEntryTimestamp":"AAAA"}' })), /no base64 SignedEntryTimestamp and Payload\.body/);
  t.match(reason(annotations({ 'dev.sigstore.cosign/bundle': '['.repeat(100) })), /nested deeper/);
  t.match(reason(annotations({ 'dev.sigstore.cosign/certificate': 'x'.repeat(20_000) })), /too large/);
});
