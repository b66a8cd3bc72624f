// Keyless and managed-key verification against Sigstore's own conformance bundles (real Fulcio
// certificates and Rekor entries, with the trusted roots they were made under): see
// test/fixtures/cosign/PROVENANCE.md. The message-signature bundles sign a.txt, not an image,
// so they go through verifyWithAuthority (cryptography and identity); the in-toto ones also go
// through the payload reading, whose predicate type says they are attestations, not signatures.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  claimOf,
  exactMatcher,
  parseBundle,
  parsePublicKey,
  parseTrustedRoot,
  regexMatcher,
  verifyCosign,
  verifyWithAuthority,
  type Authority,
  type SignedBundle,
} from '../../src/cosign/index.ts';
import { ErrorCodes } from '../../src/support/errors.ts';

const dir = new URL('../fixtures/cosign/', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, dir));
const publicGood = parseTrustedRoot(readFileSync(new URL('../../chart/ecr-admission/files/sigstore-trusted-root.json', import.meta.url)), 'public-good root');
const A_TXT = read('conformance/a.txt');

const ISSUER = 'https://token.actions.githubusercontent.com';
const IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';

const keyless = (subject = exactMatcher(IDENTITY), issuer = exactMatcher(ISSUER)): Authority => ({
  kind: 'keyless',
  name: 'ci',
  issuer,
  subject,
  describe: 'keyless',
});

function signed(name: string, artifact?: Uint8Array): SignedBundle {
  const parsed = parseBundle(read(`conformance/${name}/bundle.sigstore.json`));
  if (!parsed.ok) throw new Error(parsed.reason);
  return { ...parsed.signed, ...(artifact && { payload: artifact }) };
}

function rootOf(name: string) {
  return parseTrustedRoot(read(`conformance/${name}/trusted_root.json`), name).material;
}

t.test('happy path v0.3 (message signature over a.txt): exact identity and issuer', async (t) => {
  const v = verifyWithAuthority(signed('happy-path-v0.3', A_TXT), keyless(), { trustMaterial: publicGood.material });
  t.ok(v.ok, v.ok ? '' : v.failure.reason);
  if (v.ok) t.match(v.signer, /extremely-dangerous-oidc-beacon.*issuer https:\/\/token\.actions/);
});

t.test('happy path: subject as an anchored regular expression', async (t) => {
  const subject = regexMatcher('^https://github\\.com/sigstore-conformance/[^/]+/\\.github/workflows/[^@]+@refs/heads/main$');
  t.ok(verifyWithAuthority(signed('happy-path-v0.3', A_TXT), keyless(subject), { trustMaterial: publicGood.material }).ok);
});

t.test('wrong identity: the same bundle, another workflow', async (t) => {
  const v = verifyWithAuthority(
    signed('happy-path-v0.3', A_TXT),
    keyless(exactMatcher('https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main')),
    {
      trustMaterial: publicGood.material,
    },
  );
  t.notOk(v.ok);
  if (!v.ok) {
    t.equal(v.failure.code, ErrorCodes.UNTRUSTED_IDENTITY);
    t.match(v.failure.reason, /^subject https:\/\/github\.com\/sigstore-conformance.* is not https:\/\/github\.com\/acme/);
  }
});

t.test('a regular expression that only contains the identity does not match it (anchored)', async (t) => {
  t.throws(() => regexMatcher('sigstore-conformance'), /anchored at both ends/);
  const v = verifyWithAuthority(
    signed('happy-path-v0.3', A_TXT),
    keyless(regexMatcher('^https://github\\.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon$')),
    {
      trustMaterial: publicGood.material,
    },
  );
  t.notOk(v.ok);
});

t.test('wrong issuer', async (t) => {
  const v = verifyWithAuthority(signed('happy-path-v0.3', A_TXT), keyless(undefined, exactMatcher('https://accounts.google.com')), {
    trustMaterial: publicGood.material,
  });
  t.notOk(v.ok);
  if (!v.ok) t.match(v.failure.reason, /^issuer https:\/\/token\.actions\.githubusercontent\.com is not https:\/\/accounts\.google\.com/);
});

t.test('tampered payload: a valid bundle for a.txt, another artifact', async (t) => {
  const v = verifyWithAuthority(signed('wrong-material_fail', read('conformance/wrong-material_fail/artifact')), keyless(), {
    trustMaterial: publicGood.material,
  });
  t.notOk(v.ok);
  if (!v.ok) t.equal(v.failure.code, ErrorCodes.INTEGRITY);
});

t.test('tampered signature', async (t) => {
  t.notOk(verifyWithAuthority(signed('signature-mismatch_fail', A_TXT), keyless(), { trustMaterial: publicGood.material }).ok);
});

t.test('no trusted root: keyless cannot verify', async (t) => {
  const v = verifyWithAuthority(signed('happy-path-v0.3', A_TXT), keyless(), {});
  t.notOk(v.ok);
  if (!v.ok) t.match(v.failure.reason, /no Sigstore trusted root/);
});

t.test('in-toto (DSSE) with a custom trusted root: valid, and read as an attestation, not a signature', async (t) => {
  const name = 'intoto-with-custom-trust-root';
  const bundle = signed(name);
  const root = rootOf(name);
  const identity = readIdentity(bundle);
  const v = verifyWithAuthority(bundle, keyless(exactMatcher(identity.subject), exactMatcher(identity.issuer)), { trustMaterial: root });
  t.ok(v.ok, v.ok ? '' : v.failure.reason);
  // The same bundle under the public-good root: its CA is not trusted there.
  t.notOk(verifyWithAuthority(bundle, keyless(exactMatcher(identity.subject), exactMatcher(identity.issuer)), { trustMaterial: publicGood.material }).ok);
  const digest = `sha256:${createHash('sha256')
    .update(read(`conformance/${name}/artifact`))
    .digest('hex')}`;
  const claim = claimOf(bundle, digest);
  t.notOk(claim.ok, 'an in-toto statement of another predicate type is no cosign signature');
  const result = verifyCosign(
    { form: 'bundle', manifestDigest: 'sha256:' + '0'.repeat(64), bundle: read(`conformance/${name}/bundle.sigstore.json`) },
    digest,
    [keyless()],
    {
      trustMaterial: root,
    },
  );
  t.notOk(result.ok);
  if (!result.ok) t.match(result.reason, /attestation of predicate type/);
});

t.test('missing inclusion proof (and no signed entry timestamp): rejected', async (t) => {
  const name = 'intoto-missing-inclusion-proof_fail';
  const parsed = parseBundle(read(`conformance/${name}/bundle.sigstore.json`));
  // A v0.2 bundle must carry the proof: @sigstore/bundle refuses it at parse time already.
  t.notOk(parsed.ok);
  if (!parsed.ok) t.match(parsed.reason, /invalid v0\.2 bundle.*inclusionProof/);
});

for (const name of ['intoto-expired-certificate_fail', 'intoto-set-outside-signing-cert-validity_fail']) {
  t.test(`certificate outside its validity (${name})`, async (t) => {
    const bundle = signed(name);
    const identity = readIdentity(bundle);
    const v = verifyWithAuthority(bundle, keyless(exactMatcher(identity.subject), exactMatcher(identity.issuer)), { trustMaterial: rootOf(name) });
    t.notOk(v.ok);
    if (!v.ok) t.match(v.failure.code, /^(UNTRUSTED_CHAIN|CERT_VALIDITY)$/);
  });
}

t.test('managed key: the right key verifies, another key does not, a keyless authority refuses a key signature', async (t) => {
  const key = (pem: string): Authority => ({ kind: 'key', name: 'release', key: parsePublicKey(pem).key, describe: 'key' });
  const happy = signed('managed-key-happy-path', A_TXT);
  const v = verifyWithAuthority(happy, key(read('conformance/managed-key-happy-path/key.pub').toString('utf8')), { trustMaterial: publicGood.material });
  t.ok(v.ok, v.ok ? '' : v.failure.reason);
  // The conformance suite's wrong key (managed-key-wrong-key_fail/key.pub) is not even a valid
  // key: refused when the policy loads. Another real P-256 key is refused at verification.
  t.throws(() => parsePublicKey(read('conformance/managed-key-wrong-key_fail/key.pub').toString('utf8')), /not a PEM public key/);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const wrong = verifyWithAuthority(happy, key(other), { trustMaterial: publicGood.material });
  t.notOk(wrong.ok);
  if (!wrong.ok) t.equal(wrong.failure.reason, 'not signed by this key');
  const asKeyless = verifyWithAuthority(happy, keyless(), { trustMaterial: publicGood.material });
  t.notOk(asKeyless.ok);
  if (!asKeyless.ok) t.match(asKeyless.failure.reason, /signed with a key, not with a certificate/);
  // A keyless bundle is refused by a key authority.
  const keyOnKeyless = verifyWithAuthority(signed('happy-path-v0.3', A_TXT), key(read('conformance/managed-key-happy-path/key.pub').toString('utf8')), {
    trustMaterial: publicGood.material,
  });
  t.notOk(keyOnKeyless.ok);
});

/** The signing identity of a bundle's certificate, read without trusting it (for fixtures whose README does not name it). */
function readIdentity(bundle: SignedBundle): { subject: string; issuer: string } {
  const v = verifyWithAuthority(bundle, keyless(regexMatcher('^.*$'), regexMatcher('^.*$')), { trustMaterial: rootOf('intoto-with-custom-trust-root') });
  if (v.ok) {
    const m = /^(.*) \(issuer (.*)\)$/.exec(v.signer);
    if (m) return { subject: m[1]!, issuer: m[2]! };
  }
  return { subject: IDENTITY, issuer: ISSUER };
}
