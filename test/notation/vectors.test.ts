// The Notary Project reference implementation's envelopes, with the results its README
// states (test/fixtures/notation/README.md).
import { createHash } from 'node:crypto';
import t from 'tap';
import { loadTrustStore, parseTrustedIdentity, signerOf, verifySignature } from '../../src/notation/index.ts';
import type { TargetDescriptor, VerificationResult, VerifyOptions } from '../../src/notation/index.ts';
import { readVector, VECTORS } from './helpers.ts';

const JWS = 'application/jose+json';
const COSE = 'application/cose';
const TARGET: TargetDescriptor = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: 'sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e',
  size: 528,
};
const caStore = loadTrustStore({ type: 'ca', path: `${VECTORS}NotationTestRoot.pem` });
const saStore = loadTrustStore({ type: 'signingAuthority', path: `${VECTORS}NotationTestRoot.pem` });
const anyone = [parseTrustedIdentity('*')];

function opts(over: Partial<VerifyOptions>): VerifyOptions {
  return { trustStores: [caStore], trustedIdentities: anyone, revocation: 'enforce', ...over };
}

function code(r: VerificationResult): string {
  return r.ok ? 'OK' : r.code;
}

t.test('ca_valid: valid against a ca store, signingTime 2020-11-09, expiry 2120-11-09', async (t) => {
  const r = await verifySignature(readVector('ca_valid_sig_env.json'), JWS, TARGET, opts({}));
  if (!r.ok) return t.fail(r.reason);
  t.equal(r.signingScheme, 'notary.x509');
  t.equal(r.signingTime.toISOString(), '2020-11-09T07:00:00.000Z');
  t.equal(r.expiry?.toISOString(), '2120-11-09T07:00:00.000Z');
  t.equal(r.envelopeMediaType, JWS);
  t.equal(r.trustStore, 'NotationTestRoot.pem');
  t.equal(r.signer, 'C=US, ST=WA, L=Seattle, O=Notary, CN=Notation Test Root');
});

t.test('sa_valid: valid against a signingAuthority store, authenticSigningTime 2020-11-09', async (t) => {
  const r = await verifySignature(readVector('sa_valid_sig_env.json'), JWS, TARGET, opts({ trustStores: [saStore] }));
  if (!r.ok) return t.fail(r.reason);
  t.equal(r.signingScheme, 'notary.x509.signingAuthority');
  t.equal(r.signingTime.toISOString(), '2020-11-09T07:00:00.000Z');
});

t.test('integrity failures', async (t) => {
  for (const [file, store] of [
    ['ca_invalid_sig_env.json', caStore],
    ['sa_invalid_sig_env.json', saStore],
  ] as const) {
    const r = await verifySignature(readVector(file), JWS, TARGET, opts({ trustStores: [store] }));
    t.equal(code(r), 'INTEGRITY', file);
  }
});

t.test('expired envelopes fail expiry (2022-07-29T23:59:00Z)', async (t) => {
  for (const [file, store] of [
    ['ca_expired_sig_env.json', caStore],
    ['sa_expired_sig_env.json', saStore],
  ] as const) {
    const r = await verifySignature(readVector(file), JWS, TARGET, opts({ trustStores: [store] }));
    t.equal(code(r), 'EXPIRED', file);
    t.match(r.ok ? '' : r.reason, /2022-07-29T23:59:00Z/);
  }
  // Before its expiry the same envelope verifies: the failure is the expiry, nothing else.
  const before = await verifySignature(readVector('ca_expired_sig_env.json'), JWS, TARGET, opts({ now: new Date('2022-07-01T00:00:00Z') }));
  t.equal(code(before), 'OK');
});

t.test('an envelope does not verify against a trust store of the other type', async (t) => {
  const ca = await verifySignature(readVector('ca_valid_sig_env.json'), JWS, TARGET, opts({ trustStores: [saStore] }));
  t.equal(code(ca), 'WRONG_TRUST_STORE_TYPE');
  const sa = await verifySignature(readVector('sa_valid_sig_env.json'), JWS, TARGET, opts({ trustStores: [caStore] }));
  t.equal(code(sa), 'WRONG_TRUST_STORE_TYPE');
  const none = await verifySignature(readVector('sa_valid_sig_env.json'), JWS, TARGET, opts({ trustStores: [] }));
  t.equal(code(none), 'UNTRUSTED_CHAIN');
});

t.test('a different target digest, media type or size is refused', async (t) => {
  const env = readVector('ca_valid_sig_env.json');
  const digest = await verifySignature(env, JWS, { ...TARGET, digest: `sha256:${'0'.repeat(64)}` }, opts({}));
  t.equal(code(digest), 'TARGET_MISMATCH');
  const mediaType = await verifySignature(env, JWS, { ...TARGET, mediaType: 'application/vnd.oci.image.manifest.v1+json' }, opts({}));
  t.equal(code(mediaType), 'TARGET_MISMATCH');
  const size = await verifySignature(env, JWS, { ...TARGET, size: 529 }, opts({}));
  t.equal(code(size), 'TARGET_MISMATCH');
});

t.test('plugin envelopes are refused (only AWS Signer is implemented)', async (t) => {
  for (const [file, store] of [
    ['ca_plugin_sig_env.json', caStore],
    ['sa_plugin_sig_env.json', saStore],
  ] as const) {
    const r = await verifySignature(readVector(file), JWS, TARGET, opts({ trustStores: [store] }));
    t.equal(code(r), 'UNSUPPORTED_PLUGIN', file);
    t.match(r.ok ? '' : r.reason, /plugin-name/);
  }
});

t.test('wabbit-networks: trust is the chain, never the subject name', async (t) => {
  const target = {
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    digest: 'sha256:5a07385af4e6b6af81b0ebfd435aedccdfa3507f0609c658209e1aba57159b2b',
    size: 942,
  };
  const env = readVector('sig_env_with_metadata.json');
  const sameName = loadTrustStore({ type: 'ca', path: `${VECTORS}wabbit-networks.io.crt` });
  const trap = await verifySignature(
    env,
    JWS,
    target,
    opts({
      trustStores: [sameName],
      trustedIdentities: [parseTrustedIdentity('x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=wabbit-networks.io')],
    }),
  );
  t.equal(code(trap), 'UNTRUSTED_CHAIN', 'a different certificate with the same subject confers no trust');

  // With its own certificate as the anchor: notary.x509 without a timestamp checks validity now.
  const own = (JSON.parse(Buffer.from(env).toString('utf8')) as { header: { x5c: [string, ...string[]] } }).header.x5c[0];
  const { X509Certificate } = await import('node:crypto');
  const ownStore = { type: 'ca' as const, name: 'own', certificates: [new X509Certificate(Buffer.from(own, 'base64'))] };
  const today = await verifySignature(env, JWS, target, opts({ trustStores: [ownStore] }));
  t.equal(code(today), 'CERT_VALIDITY');
  const then = await verifySignature(env, JWS, target, opts({ trustStores: [ownStore], now: new Date('2023-01-11T12:00:00Z') }));
  t.equal(code(then), 'OK', 'within the certificate validity it verifies: integrity holds');
});

t.test('alpine JWS and COSE verify with an x509.subject identity', async (t) => {
  const target = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0',
    size: 481,
  };
  const store = loadTrustStore({ type: 'ca', path: `${VECTORS}alpine-root.pem` });
  const identity = parseTrustedIdentity('x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine');
  const options = opts({ trustStores: [store], trustedIdentities: [identity] });
  for (const [file, mediaType] of [
    ['jws_signature.sig', JWS],
    ['cose_signature.sig', COSE],
  ] as const) {
    const r = await verifySignature(readVector(file), mediaType, target, options);
    if (!r.ok) {
      t.fail(`${file}: ${r.code} ${r.reason}`);
      continue;
    }
    t.equal(r.envelopeMediaType, mediaType);
    t.equal(r.trustedIdentity, identity.text);
    t.equal(r.revocation, 'not-applicable');
    t.equal(r.signer, 'C=US, ST=WA, L=Seattle, O=Notary, CN=alpine');
    t.equal(signerOf(readVector(file), mediaType), 'C=US, ST=WA, L=Seattle, O=Notary, CN=alpine');
  }
  const manifest = readVector('alpine-manifest.json');
  t.equal(manifest.length, 481, 'the manifest really is the signed size');
  t.equal(`sha256:${createHash('sha256').update(manifest).digest('hex')}`, target.digest, 'and the signed digest');

  // The subject is matched as a set of attributes: order and a partial list do not matter...
  const reordered = parseTrustedIdentity('x509.subject: CN=alpine, O=Notary, C=US, L=Seattle, ST=WA');
  const partial = parseTrustedIdentity('x509.subject: C=US, S=WA, O=Notary');
  for (const id of [reordered, partial]) {
    const r = await verifySignature(readVector('cose_signature.sig'), COSE, target, opts({ trustStores: [store], trustedIdentities: [id] }));
    t.equal(code(r), 'OK', id.text);
  }
  // ...but every value named must be equal.
  const other = parseTrustedIdentity('x509.subject: C=US, ST=WA, O=Notary, CN=alpine2');
  const r = await verifySignature(readVector('jws_signature.sig'), JWS, target, opts({ trustStores: [store], trustedIdentities: [other] }));
  t.equal(code(r), 'UNTRUSTED_IDENTITY');
  // Swapping envelope media types is a parse failure, not a crash.
  const swapped = await verifySignature(readVector('cose_signature.sig'), JWS, target, options);
  t.equal(code(swapped), 'PARSE');
});
