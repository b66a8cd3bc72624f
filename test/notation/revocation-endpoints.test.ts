// notary.x509 signatures: only AWS Signer revocation is implemented, so a chain that names OCSP
// or CRL endpoints is admitted with a warning saying they were not consulted; a chain that
// names none has nothing to check and gets no warning.
import t from 'tap';
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { x509 } from '../../src/x509.ts';
import { signEnvelope } from '../../src/notation/sign.ts';
import { parseTrustedIdentity, verifySignature } from '../../src/notation/index.ts';

const ALG = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const;
const target = { digest: `sha256:${'ab'.repeat(32)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1234 };

async function selfSigned(withCrl: boolean) {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: withCrl ? '0a' : '0b', name: `CN=signer-${withCrl ? 'crl' : 'plain'}, O=Example`,
    notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 86_400_000), keys: keys as never, signingAlgorithm: ALG,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.3']),
      ...(withCrl ? [new x509.CRLDistributionPointsExtension(['http://crl.example.com/signer.crl'])] : []),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { der: new Uint8Array(cert.rawData), key: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }), subject: cert.subject };
}

for (const withCrl of [true, false]) {
  t.test(withCrl ? 'a chain with CRL distribution points' : 'a chain without revocation endpoints', async (t) => {
    const signer = await selfSigned(withCrl);
    const { envelope, mediaType } = signEnvelope({ format: 'jws', target, certificates: [signer.der], privateKey: signer.key });
    const result = await verifySignature(envelope, mediaType, target, {
      trustStores: [{ type: 'ca', name: 'test', certificates: [new X509Certificate(signer.der)] }],
      trustedIdentities: [parseTrustedIdentity('*')],
      revocation: 'enforce',
    });
    t.equal(result.ok, true, 'verifies');
    if (!result.ok) return;
    if (withCrl) t.match(result.warnings.join('\n'), /revocation not checked: the certificates name OCSP\/CRL endpoints/);
    else t.same(result.warnings, [], 'no warning: there is nothing to check');
  });
}
