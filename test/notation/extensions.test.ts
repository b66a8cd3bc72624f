// X.509 extensions in chain building (RFC 5280 4.2): a certificate with a critical extension
// the verifier does not process is refused, with the extension's OID in the reason, wherever
// it sits in the chain or when it is the trust-store anchor outside the chain. Name
// constraints are not enforced, so a certificate carrying them is refused, critical or not.
// Real certificates built with @peculiar/x509, real signatures.
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints, PolicyConstraints } from '@peculiar/asn1-x509';
import t from 'tap';
import { x509 } from '../../src/support/x509.ts';
import { verifySignature, type VerificationResult } from '../../src/notation/index.ts';
import type { ChainOptions } from '../../src/dev/notation/testchain.ts';
import { awsChain, awsOptions, signAws, TARGET } from './helpers.ts';

const UNKNOWN_OID = '1.3.6.1.4.1.55555.1.2';
/** DER NULL: an extension value that says nothing, so only its OID and criticality matter. */
const NULL = Uint8Array.of(0x05, 0x00);

const unknown = (critical: boolean) => new x509.Extension(UNKNOWN_OID, critical, NULL);
const nameConstraints = (critical: boolean) =>
  new x509.Extension(
    '2.5.29.30',
    critical,
    AsnConvert.serialize(
      new NameConstraints({
        permittedSubtrees: new GeneralSubtrees([new GeneralSubtree({ base: new GeneralName({ dNSName: 'example.com' }) })]),
      }),
    ),
  );
const policyConstraints = () =>
  new x509.Extension('2.5.29.36', true, AsnConvert.serialize(new PolicyConstraints({ requireExplicitPolicy: Uint8Array.of(0).buffer })));
const certificatePolicies = () => new x509.CertificatePolicyExtension(['2.23.140.1.4.1'], true);

async function verifyWith(extra: ChainOptions['extraExtensions'], options: { rootOutsideChain?: boolean } = {}): Promise<VerificationResult> {
  const chain = await awsChain({ extraExtensions: extra });
  const certificates = options.rootOutsideChain ? chain.certificates.slice(0, -1) : chain.certificates;
  const { envelope, mediaType } = signAws(chain, 'jws', { certificates });
  return verifySignature(envelope, mediaType, TARGET, awsOptions(chain));
}

t.test('an unknown critical extension is refused wherever it is, with its OID', async (t) => {
  for (const where of ['leaf', 'regional', 'intermediate', 'root'] as const) {
    const r = await verifyWith({ [where]: [unknown(true)] });
    t.match(r, { ok: false, code: 'INVALID_CHAIN' }, `on the ${where}`);
    if (!r.ok)
      t.match(
        r.reason,
        new RegExp(`carries the critical extension ${UNKNOWN_OID.replace(/\./g, '\\.')}, which this verifier does not process \\(RFC 5280 4\\.2\\)`),
        `on the ${where}: the reason`,
      );
  }
  const outside = await verifyWith({ root: [unknown(true)] }, { rootOutsideChain: true });
  t.match(
    outside,
    {
      ok: false,
      code: 'INVALID_CHAIN',
      reason:
        /^trust store "aws-signer-test-root": certificate "CN=ecr-admission Test Signer Root CA G1[^"]*" carries the critical extension 1\.3\.6\.1\.4\.1\.55555\.1\.2/,
    },
    'on the trust-store anchor outside the chain',
  );
});

t.test('the same extension, not critical, is ignored as RFC 5280 allows (control)', async (t) => {
  for (const where of ['leaf', 'regional'] as const) {
    t.match(await verifyWith({ [where]: [unknown(false)] }), { ok: true }, `on the ${where}`);
  }
  t.match(await verifyWith({}, { rootOutsideChain: true }), { ok: true }, 'a chain without its root, anchored in the store');
});

t.test('name constraints are not enforced, so a certificate carrying them is refused', async (t) => {
  for (const critical of [true, false]) {
    const r = await verifyWith({ regional: [nameConstraints(critical)] });
    t.match(
      r,
      {
        ok: false,
        code: 'INVALID_CHAIN',
        reason: new RegExp(
          `certificate "CN=ecr-admission Test Signer us-east-1 CA G1[^"]*" carries ${critical ? 'critical ' : ''}name constraints \\(extension 2\\.5\\.29\\.30\\), which this verifier does not enforce`,
        ),
      },
      critical ? 'critical, on the issuing CA' : 'not critical, on the issuing CA',
    );
  }
});

t.test('policy extensions: certificatePolicies is understood, policyConstraints is not', async (t) => {
  t.match(await verifyWith({ intermediate: [certificatePolicies()] }), { ok: true }, 'critical certificatePolicies');
  t.match(
    await verifyWith({ intermediate: [policyConstraints()] }),
    {
      ok: false,
      code: 'INVALID_CHAIN',
      reason: /critical extension 2\.5\.29\.36 \(policyConstraints\)/,
    },
    'critical policyConstraints',
  );
});

t.test('an extension repeated in one certificate is refused (which copy counts would be a guess)', async (t) => {
  // A second keyUsage identical to the first: harmless-looking, and it was accepted before.
  const r = await verifyWith({ leaf: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)] });
  t.match(r, { ok: false, code: 'INVALID_CHAIN', reason: /^certificate "CN=ecr-admission Test Signer, [^"]*" carries extension 2\.5\.29\.15 more than once$/ });
});
