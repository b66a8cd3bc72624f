// notary.x509 signatures: only AWS Signer revocation is implemented. A chain that names OCSP
// or CRL endpoints has a revocation status nobody checked: under enforce the signature is
// rejected (definitively, saying how to proceed), under warn it passes with a warning, under
// skip it passes silently. A chain that names none has nothing to check in any mode; an
// authorityInfoAccess that only names the issuer's certificate (caIssuers) is no endpoint.
import t from 'tap';
import { x509 } from '../../src/support/x509.ts';
import { signEnvelope } from '../../src/dev/notation/sign.ts';
import { buildAwsSignerShapedChain } from '../../src/dev/notation/testchain.ts';
import { parseTrustedIdentity, verifySignature, type RevocationMode } from '../../src/notation/index.ts';

const target = { digest: `sha256:${'ab'.repeat(32)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1234 };

const ENDPOINTS: Record<string, { where: 'leaf' | 'regional'; extension: () => x509.Extension; names?: RegExp }> = {
  'CRL distribution points on the leaf': {
    where: 'leaf',
    extension: () => new x509.CRLDistributionPointsExtension(['http://crl.example.com/signer.crl']),
    names: /certificate "CN=ecr-admission Test Signer, [^"]*" names CRL distribution points/,
  },
  'an OCSP responder on the leaf': {
    where: 'leaf',
    extension: () => new x509.AuthorityInfoAccessExtension({ ocsp: ['http://ocsp.example.com'] }),
    names: /certificate "CN=ecr-admission Test Signer, [^"]*" names an OCSP responder/,
  },
  'both on the issuing CA': {
    where: 'regional',
    extension: () => new x509.CRLDistributionPointsExtension(['http://crl.example.com/ca.crl']),
    names: /certificate "CN=ecr-admission Test Signer us-east-1 CA G1, [^"]*" names CRL distribution points and an OCSP responder/,
  },
  'caIssuers only (not a revocation endpoint)': {
    where: 'leaf',
    extension: () => new x509.AuthorityInfoAccessExtension({ caIssuers: ['http://ca.example.com/ca.crt'] }),
  },
};

async function signed(where: 'leaf' | 'regional', extensions: x509.Extension[]) {
  const chain = await buildAwsSignerShapedChain({ extraExtensions: { [where]: extensions } });
  // No `aws`: a notary.x509 signature, anchored in a trust store of type ca.
  const { envelope, mediaType } = signEnvelope({ format: 'jws', target, certificates: chain.certificates, privateKey: chain.leafKey });
  return (revocation: RevocationMode) =>
    verifySignature(envelope, mediaType, target, {
      trustStores: [{ type: 'ca', name: 'test', certificates: [chain.root] }],
      trustedIdentities: [parseTrustedIdentity('*')],
      revocation,
    });
}

t.test('a chain that names OCSP/CRL endpoints: enforce rejects, warn warns, skip is silent', async (t) => {
  for (const [name, { where, extension, names }] of Object.entries(ENDPOINTS)) {
    const verify = await signed(
      where,
      name.startsWith('both') ? [extension(), new x509.AuthorityInfoAccessExtension({ ocsp: ['http://ocsp.example.com'] })] : [extension()],
    );
    const enforce = await verify('enforce');
    const warn = await verify('warn');
    const skip = await verify('skip');
    if (!names) {
      t.match(enforce, { ok: true, revocation: 'not-applicable' }, `${name}: enforce passes, nothing to check`);
      t.match(warn, { ok: true }, `${name}: warn passes`);
      t.same([enforce.ok && enforce.warnings, warn.ok && warn.warnings], [[], []], `${name}: without a warning`);
      continue;
    }
    t.match(enforce, { ok: false, code: 'REVOCATION_UNSUPPORTED' }, `${name}: enforce rejects`);
    if (!enforce.ok) {
      t.match(enforce.reason, names, `${name}: the reason names the certificate and what it names`);
      t.match(enforce.reason, /OCSP\/CRL revocation checking is not implemented/, `${name}: the reason says why`);
      t.match(enforce.reason, /set revocation: warn or skip/, `${name}: the reason says how to proceed`);
    }
    t.match(warn, { ok: true, revocation: 'not-applicable' }, `${name}: warn passes`);
    if (warn.ok) t.match(warn.warnings.join('\n'), /revocation not checked: the certificates name OCSP\/CRL endpoints/, `${name}: with a warning`);
    t.match(skip, { ok: true, revocation: 'skipped' }, `${name}: skip passes`);
    t.same(skip.ok && skip.warnings, [], `${name}: silently`);
  }
});

t.test('a chain without revocation endpoints passes in every mode, without a warning', async (t) => {
  const verify = await signed('leaf', []);
  for (const mode of ['enforce', 'warn', 'skip'] as const) {
    const r = await verify(mode);
    t.equal(r.ok, true, mode);
    t.same(r.ok && r.warnings, [], `${mode}: no warning`);
  }
});
