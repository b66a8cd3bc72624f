// The AWS side of the scenarios: one ECR account in the AWS sandbox whose images each stand for
// one case of the issue (signed + immutable + clean, unsigned, untrusted signer, tampered
// signature, mutable repository, critical finding, not yet scanned). Signatures are real
// Notation envelopes made with an AWS-Signer-shaped chain (real ECDSA P-384; only the root is
// ours instead of AWS's, which cannot be had outside AWS).
import { signEnvelope } from '../../../src/dev/notation/sign.ts';
import { buildAwsSignerShapedChain } from '../../../src/dev/notation/testchain.ts';
import { imageDescriptor, imageDigest, ociImage, type ImageFixture, type SandboxFixture, type SignatureFixture } from '../../../src/dev/sandbox/index.ts';

export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
export const ECR_HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
export const RELEASE_PROFILE = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/release`;
const RELEASE_VERSION = `${RELEASE_PROFILE}/e2e0release1`;
const DEV_VERSION = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/dev/e2e0dev1`;
const JOB = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-jobs/e2e-job-1`;

export const CRITICAL_CVE = 'CVE-2024-3094';

/** Image references of each case, by name. */
export interface EcrImages {
  /** Signed by the trusted profile, IMMUTABLE repository, scanned, no finding. */
  readonly good: string;
  /** A second good image (a different digest), for the multi-container and second-kind cases. */
  readonly good2: string;
  readonly unsigned: string;
  /** Signed with a valid chain by a profile the policy does not trust. */
  readonly untrusted: string;
  /** One byte of the signature value changed. */
  readonly tampered: string;
  /** Signed and clean, in a MUTABLE repository. */
  readonly mutable: string;
  /** Signed, with an active CRITICAL Inspector finding. */
  readonly critical: string;
  /** Signed, Inspector has not scanned it yet (PENDING_INITIAL_SCAN). */
  readonly notScanned: string;
  /** A tag no image in the repository carries. */
  readonly unknownTag: string;
  /** Not from ECR, not in registries.allow. */
  readonly nonEcr: string;
  /** Good images kept for the slow-AWS scenarios, so no earlier admission has cached them. */
  readonly slowDeny: string;
  readonly slowAllow: string;
}

export interface EcrWorld {
  readonly fixture: SandboxFixture;
  /** PEM of the test signer's root, the policy's signingAuthority trust store. */
  readonly signerRootPem: string;
  readonly images: EcrImages;
  /** sha256:... of every image in `images` that exists, by case name. */
  readonly digests: Readonly<Record<string, string>>;
}

export async function buildEcrWorld(): Promise<EcrWorld> {
  const chain = await buildAwsSignerShapedChain();
  const sign = (image: ImageFixture, profileVersionArn = RELEASE_VERSION): SignatureFixture => {
    const d = imageDescriptor(image);
    const signed = signEnvelope({
      format: 'jws',
      target: { digest: d.digest, mediaType: d.mediaType, size: d.size },
      certificates: chain.certificates,
      privateKey: chain.leafKey,
      aws: { profileVersionArn, jobArn: JOB },
    });
    return { envelope: signed.envelope, envelopeMediaType: signed.mediaType };
  };
  const signedImage = (seed: string, tag: string, extra: Partial<ImageFixture> = {}, profileVersionArn?: string): ImageFixture => {
    const image = ociImage({ seed, tags: [tag], ...extra });
    image.signatures = [sign(image, profileVersionArn)];
    return image;
  };

  const good = signedImage('e2e-good', '1.0.0');
  const good2 = signedImage('e2e-good-2', '1.0.1');
  const unsigned = ociImage({ seed: 'e2e-unsigned', tags: ['1.1.0-unsigned'] });
  const untrusted = signedImage('e2e-untrusted', '1.2.0-dev', {}, DEV_VERSION);
  const tampered = ociImage({ seed: 'e2e-tampered', tags: ['1.3.0-tampered'] });
  tampered.signatures = [tamperedSignature(sign(tampered))];
  const critical = signedImage('e2e-critical', '1.4.0', {
    findings: [
      {
        vulnerabilityId: CRITICAL_CVE,
        severity: 'CRITICAL',
        inspectorScore: 10,
        fixAvailable: 'YES',
        packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }],
      },
    ],
  });
  const notScanned = signedImage('e2e-pending', '1.5.0', { coverage: { statusCode: 'ACTIVE', reason: 'PENDING_INITIAL_SCAN' } });
  const slowDeny = signedImage('e2e-slow-deny', '2.0.0');
  const slowAllow = signedImage('e2e-slow-allow', '2.0.1');
  const mutable = signedImage('e2e-mutable', '1.0.0');

  const fixture: SandboxFixture = {
    defaultAccount: ACCOUNT,
    accounts: {
      [ACCOUNT]: {
        regions: {
          [REGION]: {
            scanType: 'ENHANCED',
            repositories: [
              { name: 'shop/web', tagMutability: 'IMMUTABLE', images: [good, good2, unsigned, untrusted, tampered, critical, notScanned, slowDeny, slowAllow] },
              { name: 'shop/mutable', tagMutability: 'MUTABLE', images: [mutable] },
            ],
          },
        },
      },
    },
  };
  const ref = (repo: string, tag: string) => `${ECR_HOST}/${repo}:${tag}`;
  const images: EcrImages = {
    good: ref('shop/web', '1.0.0'),
    good2: ref('shop/web', '1.0.1'),
    unsigned: ref('shop/web', '1.1.0-unsigned'),
    untrusted: ref('shop/web', '1.2.0-dev'),
    tampered: ref('shop/web', '1.3.0-tampered'),
    mutable: ref('shop/mutable', '1.0.0'),
    critical: ref('shop/web', '1.4.0'),
    notScanned: ref('shop/web', '1.5.0'),
    unknownTag: ref('shop/web', '9.9.9'),
    nonEcr: 'docker.io/library/nginx:1.27',
    slowDeny: ref('shop/web', '2.0.0'),
    slowAllow: ref('shop/web', '2.0.1'),
  };
  const digests = Object.fromEntries(
    Object.entries({ good, good2, unsigned, untrusted, tampered, mutable, critical, notScanned, slowDeny, slowAllow }).map(([name, image]) => [
      name,
      imageDigest(image),
    ]),
  );
  return { fixture, signerRootPem: chain.rootPem, images, digests };
}

/** Changes one character of a JWS envelope's signature value: it still parses, it no longer verifies. */
function tamperedSignature(signature: SignatureFixture): SignatureFixture {
  const envelope = JSON.parse(Buffer.from(signature.envelope).toString('utf8')) as { signature: string };
  const middle = Math.floor(envelope.signature.length / 2);
  const replaced = envelope.signature[middle] === 'A' ? 'B' : 'A';
  envelope.signature = envelope.signature.slice(0, middle) + replaced + envelope.signature.slice(middle + 1);
  return { ...signature, envelope: Buffer.from(JSON.stringify(envelope), 'utf8') };
}
