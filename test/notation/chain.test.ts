// The code-signing certificate requirements and trust-store anchoring, with chains that
// break one rule at a time.
import { X509Certificate as NodeX509Certificate, webcrypto } from 'node:crypto';
import { x509 } from '../../src/support/x509.ts';
import t from 'tap';
import { verifySignature } from '../../src/notation/index.ts';
import type { VerificationResult } from '../../src/notation/index.ts';
import { signEnvelope } from '../../src/dev/notation/sign.ts';
import { awsChain, awsOptions, DAY, NOW, signAws, signingAuthorityStore, TARGET, tamperJws } from './helpers.ts';

const code = (r: VerificationResult) => (r.ok ? 'OK' : r.code);
const reason = (r: VerificationResult) => (r.ok ? '' : r.reason);

async function verifyChain(chain: Awaited<ReturnType<typeof awsChain>>) {
  const { envelope, mediaType } = signAws(chain, 'jws');
  return verifySignature(envelope, mediaType, TARGET, awsOptions(chain));
}

t.test('leaf certificate requirements', async (t) => {
  const cases: [string, Parameters<typeof awsChain>[0], string, RegExp?][] = [
    ['no digitalSignature', { leaf: { keyUsage: x509.KeyUsageFlags.nonRepudiation } }, 'INVALID_CHAIN', /digitalSignature/],
    [
      'keyEncipherment too',
      { leaf: { keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment } },
      'INVALID_CHAIN',
      /beyond digitalSignature/,
    ],
    ['serverAuth EKU', { leaf: { extendedKeyUsage: [x509.ExtendedKeyUsage.codeSigning, x509.ExtendedKeyUsage.serverAuth] } }, 'INVALID_CHAIN', /serverAuth/],
    ['EKU without codeSigning', { leaf: { extendedKeyUsage: ['1.3.6.1.4.1.99999.1'] } }, 'INVALID_CHAIN', /codeSigning/],
    ['leaf is a CA', { leaf: { ca: true } }, 'INVALID_CHAIN', /CA certificate/],
    ['no EKU at all (allowed)', { leaf: { extendedKeyUsage: null } }, 'OK'],
  ];
  for (const [name, options, expected, pattern] of cases) {
    const r = await verifyChain(await awsChain(options));
    t.equal(code(r), expected, name);
    if (pattern) t.match(reason(r), pattern, name);
  }
});

t.test('chain order and anchoring', async (t) => {
  const chain = await awsChain();
  const [leaf, regional, intermediate, root] = chain.certificates as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const signWith = (certificates: Uint8Array[]) =>
    signEnvelope({
      format: 'cose',
      target: TARGET,
      certificates,
      privateKey: chain.leafKey,
      signingTime: new Date(NOW.getTime() - 1000),
      aws: {
        profileVersionArn: 'arn:aws:signer:us-east-1:111122223333:/signing-profiles/release/AbCdEf1234',
        jobArn: 'arn:aws:signer:us-east-1:111122223333:/signing-jobs/3f1c2a4b-9d1e-4c5f-8a7b-0123456789ab',
      },
    });
  const verifyWith = (certificates: Uint8Array[], storeCerts = [chain.root]) => {
    const { envelope, mediaType } = signWith(certificates);
    return verifySignature(
      envelope,
      mediaType,
      TARGET,
      awsOptions(chain, { trustStores: [{ type: 'signingAuthority', name: 's', certificates: storeCerts }] }),
    );
  };

  t.equal(code(await verifyWith([leaf, intermediate, regional, root])), 'INVALID_CHAIN', 'out of order');
  t.equal(code(await verifyWith([leaf, regional, intermediate, root, root])), 'INVALID_CHAIN', 'root twice');
  const unrelated = (await awsChain()).certificates[3] as Uint8Array;
  t.equal(code(await verifyWith([leaf, regional, intermediate, root, unrelated])), 'INVALID_CHAIN', 'unrelated certificate after the root');

  const noRoot = await verifyWith([leaf, regional, intermediate]);
  t.equal(code(noRoot), 'OK', 'root left out, issued by the trust store root');
  const onlyLeaf = await verifyWith([leaf], [new NodeX509Certificate(Buffer.from(regional))]);
  t.equal(code(onlyLeaf), 'OK', 'a lone leaf issued by a trust store CA');
  t.equal(code(await verifyWith([leaf, regional])), 'UNTRUSTED_CHAIN', 'root left out and the store does not hold the issuer');
  const pinned = await verifyWith([leaf, regional, intermediate, root], [new NodeX509Certificate(Buffer.from(intermediate))]);
  t.equal(code(pinned), 'OK', 'a trust store may pin an intermediate that is in the chain');

  const tooLong = Array.from({ length: 11 }, () => leaf);
  t.equal(code(await verifyWith(tooLong)), 'PARSE', 'more than 10 certificates');
});

/** A hand-made three-level chain to break CA rules the AWS-shaped builder never breaks. */
async function customChain(rootExtensions: x509.Extension[], intExtensions: x509.Extension[]) {
  const alg = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
  const gen = () => webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const [rk, ik, lk] = [await gen(), await gen(), await gen()];
  const notBefore = new Date(NOW.getTime() - DAY);
  const notAfter = new Date(NOW.getTime() + DAY);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=R, O=T, ST=WA, C=US',
    keys: rk,
    signingAlgorithm: alg,
    notBefore,
    notAfter,
    extensions: rootExtensions,
  });
  const int = await x509.X509CertificateGenerator.create({
    subject: 'CN=I, O=T, ST=WA, C=US',
    issuer: 'CN=R, O=T, ST=WA, C=US',
    publicKey: ik.publicKey,
    signingKey: rk.privateKey,
    signingAlgorithm: alg,
    notBefore,
    notAfter,
    extensions: intExtensions,
  });
  const leaf = await x509.X509CertificateGenerator.create({
    subject: 'CN=L, O=T, ST=WA, C=US',
    issuer: 'CN=I, O=T, ST=WA, C=US',
    publicKey: lk.publicKey,
    signingKey: ik.privateKey,
    signingAlgorithm: alg,
    notBefore,
    notAfter,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const { KeyObject } = await import('node:crypto');
  const { envelope, mediaType } = signEnvelope({
    format: 'jws',
    target: TARGET,
    certificates: [leaf, int, root].map((c) => new Uint8Array(c.rawData)),
    privateKey: KeyObject.from(lk.privateKey),
    signingTime: NOW,
  });
  const store = { type: 'ca' as const, name: 'custom', certificates: [new NodeX509Certificate(Buffer.from(root.rawData))] };
  return verifySignature(envelope, mediaType, TARGET, { trustStores: [store], trustedIdentities: [{ kind: 'any', text: '*' }], revocation: 'skip', now: NOW });
}

t.test('CA certificate requirements', async (t) => {
  const caKu = new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true);
  t.equal(
    code(await customChain([new x509.BasicConstraintsExtension(true, 1, true), caKu], [new x509.BasicConstraintsExtension(true, 0, true), caKu])),
    'OK',
    'control: a well-formed chain',
  );
  const pathLen = await customChain([new x509.BasicConstraintsExtension(true, 0, true), caKu], [new x509.BasicConstraintsExtension(true, 0, true), caKu]);
  t.equal(code(pathLen), 'INVALID_CHAIN', 'root pathLen 0 with an intermediate CA below');
  t.match(reason(pathLen), /path length/);
  const noCertSign = await customChain(
    [new x509.BasicConstraintsExtension(true, 1, true), caKu],
    [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.cRLSign, true)],
  );
  t.equal(code(noCertSign), 'INVALID_CHAIN', 'intermediate without keyCertSign');
  const notCa = await customChain([new x509.BasicConstraintsExtension(true, 1, true), caKu], [caKu]);
  t.equal(code(notCa), 'INVALID_CHAIN', 'intermediate without basicConstraints');
  t.match(reason(notCa), /cA=true/);
  const kuNotCritical = await customChain(
    [new x509.BasicConstraintsExtension(true, 1, true), caKu],
    [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, false)],
  );
  t.equal(code(kuNotCritical), 'INVALID_CHAIN', 'CA key usage must be critical');
});

t.test('the trust store type follows the signing scheme', async (t) => {
  const chain = await awsChain();
  const { envelope, mediaType } = signAws(chain, 'jws');
  const asCa = await verifySignature(envelope, mediaType, TARGET, awsOptions(chain, { trustStores: [{ ...signingAuthorityStore(chain), type: 'ca' }] }));
  t.equal(code(asCa), 'WRONG_TRUST_STORE_TYPE');
  // A forged scheme header cannot move a signature to the other store type: it is signed.
  const forged = tamperJws(envelope, {
    protected: (h) => {
      h['io.cncf.notary.signingScheme'] = 'notary.x509';
    },
  });
  t.not(code(await verifySignature(forged, mediaType, TARGET, awsOptions(chain))), 'OK');
});
