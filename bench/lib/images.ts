// One benchmark image: an OCI image scanned by Inspector (ACTIVE, two findings below the
// policy's denied severity, so ListFindings answers and nothing is denied), carrying one
// Notation JWS signature over its digest made the way AWS Signer makes them.
import type { KeyObject } from 'node:crypto';
import { signEnvelope } from '../../src/dev/notation/sign.ts';
import { imageDescriptor, ociImage, type ImageFixture } from '../../src/dev/sandbox/index.ts';

export const BENCH_ACCOUNT = '111122223333';
export const BENCH_REGION = 'us-east-1';
export const BENCH_PROFILE = `arn:aws:signer:${BENCH_REGION}:${BENCH_ACCOUNT}:/signing-profiles/bench`;
const PROFILE_VERSION = `${BENCH_PROFILE}/b3nchv3rs10n`;

function jobArn(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `arn:aws:signer:${BENCH_REGION}:${BENCH_ACCOUNT}:/signing-jobs/0b5e7c11-4d2a-4f6e-9c3b-${hex}`;
}

export interface ImageSpec {
  /** Unique across the world: seeds the image config, so the digest. */
  readonly seed: string;
  readonly tag: string;
  readonly n: number;
  /** Two findings below the denied severity; without, the image is scanned and clean. */
  readonly findings: boolean;
}

export interface Signing {
  readonly certificates: Uint8Array[];
  readonly leafKey: KeyObject;
  readonly signingTime: Date;
}

export function makeSignedImage(spec: ImageSpec, signing: Signing): ImageFixture {
  const image = ociImage({
    seed: spec.seed,
    tags: [spec.tag],
    scanStatus: { status: 'ACTIVE' },
    findings: spec.findings
      ? [
          {
            vulnerabilityId: `CVE-2025-${10000 + (spec.n % 5000)}`,
            severity: 'MEDIUM',
            packages: [{ name: 'openssl', version: '3.0.13', fixedInVersion: '3.0.14' }],
          },
          { vulnerabilityId: 'CVE-2024-0001', severity: 'LOW', packages: [{ name: 'zlib', version: '1.3' }] },
        ]
      : [],
  });
  const d = imageDescriptor(image);
  const signed = signEnvelope({
    format: 'jws',
    target: { digest: d.digest, mediaType: d.mediaType, size: d.size },
    certificates: signing.certificates,
    privateKey: signing.leafKey,
    signingTime: signing.signingTime,
    // One signing job per image, as AWS Signer makes them: revocation is asked per job.
    aws: { profileVersionArn: PROFILE_VERSION, jobArn: jobArn(spec.n) },
  });
  image.signatures = [{ envelope: signed.envelope, envelopeMediaType: signed.mediaType }];
  return image;
}
