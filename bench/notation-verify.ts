// Verification time of one Notation envelope: the first call (cold: its certificates not
// yet in the verifier's parse and signature caches; the very first case also pays for
// module, OpenSSL and V8 warm-up) and the median of N repeats, for an
// AWS-Signer-shaped ECDSA P-384 chain (JWS and COSE) and the reference RSA vectors.
//   node bench/notation-verify.ts [N]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTrustStore, parseTrustedIdentity, verifySignature } from '../src/notation/index.ts';
import type { TargetDescriptor, VerifyOptions } from '../src/notation/index.ts';
import { signEnvelope } from '../src/dev/notation/sign.ts';
import { buildAwsSignerShapedChain } from '../src/dev/notation/testchain.ts';

const N = Number(process.argv[2] ?? 1000);
// The Notary Project test vectors carried in the repository.
const VECTORS = join(import.meta.dirname, '../test/fixtures/notation/');

interface Case {
  name: string;
  envelope: Uint8Array;
  mediaType: string;
  target: TargetDescriptor;
  options: VerifyOptions;
}

async function cases(): Promise<Case[]> {
  // One chain per envelope, so each case's first verification meets certificates the
  // verifier's caches have not seen.
  const chain = await buildAwsSignerShapedChain();
  const chain2 = await buildAwsSignerShapedChain();
  const target = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'ab'.repeat(32)}`, size: 1234 };
  const aws = {
    profileVersionArn: 'arn:aws:signer:us-east-1:111122223333:/signing-profiles/release/AbCdEf1234',
    jobArn: 'arn:aws:signer:us-east-1:111122223333:/signing-jobs/3f1c2a4b-9d1e-4c5f-8a7b-0123456789ab',
  };
  const awsOptions: VerifyOptions = {
    trustStores: [
      { type: 'signingAuthority', name: 'test', certificates: [chain.root] },
      { type: 'signingAuthority', name: 'test2', certificates: [chain2.root] },
    ],
    trustedIdentities: [parseTrustedIdentity('arn:aws:signer:us-east-1:111122223333:/signing-profiles/release')],
    revocation: 'enforce',
    checkRevocation: async () => [],
  };
  const alpineTarget = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0',
    size: 481,
  };
  const alpineOptions: VerifyOptions = {
    trustStores: [loadTrustStore({ type: 'ca', path: `${VECTORS}alpine-root.pem` })],
    trustedIdentities: [parseTrustedIdentity('x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine')],
    revocation: 'skip',
  };
  const jws = signEnvelope({ format: 'jws', target, certificates: chain.certificates, privateKey: chain.leafKey, aws });
  const cose = signEnvelope({ format: 'cose', target, certificates: chain2.certificates, privateKey: chain2.leafKey, aws });
  return [
    { name: 'AWS-shaped ES384, 4 certs, JWS', ...jws, target, options: awsOptions },
    { name: 'AWS-shaped ES384, 4 certs, COSE', ...cose, target, options: awsOptions },
    {
      name: 'alpine PS256, 1 cert, JWS',
      envelope: readFileSync(`${VECTORS}jws_signature.sig`),
      mediaType: 'application/jose+json',
      target: alpineTarget,
      options: alpineOptions,
    },
    {
      name: 'alpine PS256, 1 cert, COSE',
      envelope: readFileSync(`${VECTORS}cose_signature.sig`),
      mediaType: 'application/cose',
      target: alpineTarget,
      options: alpineOptions,
    },
  ];
}

async function timeOnce(c: Case): Promise<number> {
  const start = process.hrtime.bigint();
  const r = await verifySignature(c.envelope, c.mediaType, c.target, c.options);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (!r.ok) throw new Error(`${c.name}: ${r.code} ${r.reason}`);
  return ms;
}

const all = await cases();
console.log(`node ${process.version}, N=${N}`);
for (const c of all) {
  const cold = await timeOnce(c);
  const samples: number[] = [];
  for (let i = 0; i < N; i++) samples.push(await timeOnce(c));
  samples.sort((a, b) => a - b);
  const at = (q: number) => (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number).toFixed(3);
  console.log(
    `${c.name.padEnd(34)} ${String(c.envelope.length).padStart(5)} B  cold ${cold.toFixed(3)} ms  median ${at(0.5)} ms  p95 ${at(0.95)} ms  (${(1000 / Number(at(0.5))).toFixed(0)}/s)`,
  );
}
