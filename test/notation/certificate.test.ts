// Certificate parsing: what it extracts, and that its memoisation is keyed by content.
import t from 'tap';
import { describeSubject, isIssuedBy, KEY_USAGE, parseCertificate, type CertificateInfo } from '../../src/notation/certificate.ts';
import { awsChain } from './helpers.ts';

const chain = await awsChain();
const parse = (der: Uint8Array): CertificateInfo => {
  const p = parseCertificate(der);
  if (!p.ok) throw new Error(p.reason);
  return p.value;
};

t.test('extracted fields', async (t) => {
  const [leaf, regional, intermediate, root] = chain.certificates.map(parse) as [CertificateInfo, CertificateInfo, CertificateInfo, CertificateInfo];
  t.equal(describeSubject(leaf), 'CN=ecr-admission Test Signer, OU=Signing, O=ecr-admission test, L=Seattle, ST=WA, C=US');
  t.equal(leaf.keyUsage?.critical, true);
  t.equal(leaf.keyUsage?.flags, KEY_USAGE.digitalSignature);
  t.same(leaf.extKeyUsage, ['1.3.6.1.5.5.7.3.3']);
  t.equal(leaf.basicConstraints, undefined);
  t.same(regional.basicConstraints, { critical: true, ca: true, pathLen: 0 });
  t.same(root.basicConstraints, { critical: true, ca: true, pathLen: 2 });
  t.equal(leaf.signatureAlgorithm, '1.2.840.10045.4.3.3', 'ecdsa-with-SHA384');
  t.equal(Math.round((leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 86_400_000), 3, 'a three-day leaf');
  t.ok(isIssuedBy(leaf, regional) && isIssuedBy(regional, intermediate) && isIssuedBy(intermediate, root) && isIssuedBy(root, root));
  t.notOk(isIssuedBy(leaf, intermediate), 'names do not link');
});

t.test('the cache is keyed by content and keeps its own copy', async (t) => {
  const bytes = new Uint8Array(chain.certificates[0] as Uint8Array);
  const first = parse(bytes);
  t.equal(parse(new Uint8Array(bytes)), first, 'same bytes, same parsed certificate');
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0xff; // corrupt the signature in the caller's buffer
  t.notOk(Buffer.from(first.der).equals(bytes), "the cached certificate did not change with the caller's buffer");
  const other = parseCertificate(bytes);
  if (other.ok) {
    t.not(other.value, first, 'different bytes are parsed afresh');
    t.notOk(isIssuedBy(other.value, parse(chain.certificates[1] as Uint8Array)), 'and their broken signature is seen');
  } else {
    t.pass('different bytes are parsed afresh (and refused)');
  }
  t.match(parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), { ok: false, code: 'PARSE' });
});
