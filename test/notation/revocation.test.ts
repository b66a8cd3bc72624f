// The GetRevocationStatus inputs, computed as AWS Signer's Notation plugin computes them,
// and what a revoked entity is reported as.
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import t from 'tap';
import { parseCertificate, type CertificateInfo } from '../../src/notation/certificate.ts';
import { certificateHashes, describeRevokedEntities, revocationInput } from '../../src/notation/revocation.ts';
import { awsChain, JOB_ARN, PROFILE_ARN, PROFILE_VERSION_ARN, readVector } from './helpers.ts';

const chain = await awsChain();
const infos: CertificateInfo[] = chain.certificates.map((der) => {
  const p = parseCertificate(der);
  if (!p.ok) throw new Error(p.reason);
  return p.value;
});

t.test('the TBSCertificate slice is exactly what the issuer signed', async (t) => {
  for (let i = 0; i < infos.length; i++) {
    const cert = infos[i] as CertificateInfo;
    const issuer = infos[Math.min(i + 1, infos.length - 1)] as CertificateInfo;
    const asn = AsnConvert.parse(cert.der, Certificate);
    const signature = new Uint8Array(asn.signatureValue);
    t.ok(cryptoVerify('sha384', cert.tbs, { key: issuer.publicKey, dsaEncoding: 'der' }, signature), `certificate ${i}: issuer signature over our tbs slice`);
    t.same(Buffer.from(AsnConvert.serialize(asn.tbsCertificate)), Buffer.from(cert.tbs), `certificate ${i}: equals the re-encoded TBSCertificate`);
  }
});

t.test('certificateHashes: SHA-384(tbs) of each certificate, then of the next; the root twice', async (t) => {
  const single = infos.map((c) => createHash('sha384').update(c.tbs).digest('hex'));
  const hashes = certificateHashes(infos);
  t.equal(hashes.length, 4);
  t.equal(hashes[0], `${single[0]}${single[1]}`);
  t.equal(hashes[1], `${single[1]}${single[2]}`);
  t.equal(hashes[2], `${single[2]}${single[3]}`);
  t.equal(hashes[3], `${single[3]}${single[3]}`);
  t.ok(
    hashes.every((h) => /^[0-9a-f]{192}$/.test(h)),
    'lower-case hex',
  );

  // The reference vector chain (RSA, two certificates) too.
  const env = JSON.parse(Buffer.from(readVector('ca_valid_sig_env.json')).toString('utf8')) as { header: { x5c: string[] } };
  const vec = env.header.x5c.map((b64) => {
    const p = parseCertificate(Buffer.from(b64, 'base64'));
    if (!p.ok) throw new Error(p.reason);
    return p.value;
  });
  const [leafHash, rootHash] = vec.map((c) => createHash('sha384').update(c.tbs).digest('hex'));
  t.same(certificateHashes(vec), [`${leafHash}${rootHash}`, `${rootHash}${rootHash}`]);
  t.ok(
    cryptoVerify(
      'sha256',
      (vec[0] as CertificateInfo).tbs,
      (vec[1] as CertificateInfo).publicKey,
      new Uint8Array(AsnConvert.parse((vec[0] as CertificateInfo).der, Certificate).signatureValue),
    ),
    'RSA chain: tbs slice verified by the root',
  );
});

t.test('revocationInput', async (t) => {
  const at = new Date('2026-01-02T03:04:05Z');
  const input = revocationInput(infos, PROFILE_VERSION_ARN, JOB_ARN, at);
  t.same(input, {
    platformId: 'Notation-OCI-SHA384-ECDSA',
    profileVersionArn: PROFILE_VERSION_ARN,
    jobArn: JOB_ARN,
    signatureTimestamp: at,
    certificateHashes: certificateHashes(infos),
  });
});

t.test('what a revoked entity is', async (t) => {
  const input = revocationInput(infos, PROFILE_VERSION_ARN, JOB_ARN, new Date());
  const say = (e: string) => describeRevokedEntities([e], input, infos);
  t.match(say(PROFILE_VERSION_ARN.toUpperCase()), /^signing profile version /);
  t.match(say(JOB_ARN), /^signing job /);
  t.match(say(PROFILE_ARN), /^signing profile arn:/);
  t.match(say('arn:aws:signer:us-east-1:111122223333:/signing-profiles/other'), /^resource /);
  t.match(say(input.certificateHashes[3] as string), /certificate "CN=ecr-admission Test Signer Root CA G1.*" \(chain position 3\)/);
  t.match(say((input.certificateHashes[2] as string).slice(0, 96).toUpperCase()), /chain position 2/);
  t.match(say('x'.repeat(1000)), /^unrecognised entity x{200}$/, 'bounded');
  t.equal(describeRevokedEntities([JOB_ARN, PROFILE_VERSION_ARN], input, infos).split('; ').length, 2);
});
