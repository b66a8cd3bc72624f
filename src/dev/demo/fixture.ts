// The demo's AWS: one account with signed, unsigned, mutable, vulnerable and archived images,
// signed at start-up with a freshly made AWS-Signer-shaped chain (real ECDSA P-384 crypto;
// only the root is ours instead of AWS's).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signEnvelope } from '../notation/sign.ts';
import { buildAwsSignerShapedChain, type TestChain } from '../notation/testchain.ts';
import { imageDescriptor, ociImage, ociIndex, type ImageFixture, type SandboxFixture, type SignatureFixture } from '../sandbox/index.ts';
import { DEMO_ACCOUNT, DEMO_REGION } from './samples.ts';

export const DEMO_PROFILE = `arn:aws:signer:${DEMO_REGION}:${DEMO_ACCOUNT}:/signing-profiles/release`;
const VERSION = `${DEMO_PROFILE}/8c5d1a2b3c`;
const DEV_VERSION = `arn:aws:signer:${DEMO_REGION}:${DEMO_ACCOUNT}:/signing-profiles/dev/0f9e8d7c6b`;
const JOB = `arn:aws:signer:${DEMO_REGION}:${DEMO_ACCOUNT}:/signing-jobs/5e0c7a3e-demo`;

function signer(chain: TestChain) {
  return (image: ImageFixture, profileVersionArn = VERSION): SignatureFixture => {
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
}

export interface DemoWorld {
  readonly fixture: SandboxFixture;
  /** A trust store file holding the demo signer's root. */
  readonly trustStorePath: string;
}

export async function demoWorld(): Promise<DemoWorld> {
  const chain = await buildAwsSignerShapedChain();
  const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-demo-'));
  const trustStorePath = join(dir, 'demo-signer-root.pem');
  writeFileSync(trustStorePath, chain.rootPem);
  const sign = signer(chain);

  const web = ociImage({ seed: 'web-1.4.2', tags: ['1.4.2'] });
  web.signatures = [sign(web)];
  const migrate = ociImage({ seed: 'web-migrate-1.4.2', tags: ['1.4.2'] });
  migrate.signatures = [sign(migrate)];
  const amd = ociImage({ seed: 'api-amd64', platform: { os: 'linux', architecture: 'amd64' } });
  const arm = ociImage({ seed: 'api-arm64', platform: { os: 'linux', architecture: 'arm64' } });
  const api = ociIndex({ children: [amd, arm], tags: ['3.2.0'] });
  api.signatures = [sign(api)];
  const unsigned = ociImage({ seed: 'web-1.5.0-rc1', tags: ['1.5.0-rc1'] });
  const devSigned = ociImage({ seed: 'web-dev', tags: ['dev-42'] });
  devSigned.signatures = [sign(devSigned, DEV_VERSION)];
  const worker = ociImage({ seed: 'worker-2', tags: ['2'] });
  worker.signatures = [sign(worker)];
  const legacy = ociImage({
    seed: 'legacy-1',
    tags: ['1.0'],
    findings: [
      {
        vulnerabilityId: 'CVE-2024-3094',
        severity: 'CRITICAL',
        inspectorScore: 10,
        fixAvailable: 'YES',
        packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }],
      },
      {
        vulnerabilityId: 'CVE-2023-4863',
        severity: 'HIGH',
        inspectorScore: 8.8,
        fixAvailable: 'YES',
        packages: [{ name: 'libwebp', version: '1.3.1', fixedInVersion: '1.3.2' }],
      },
    ],
  });
  legacy.signatures = [sign(legacy)];
  const old = ociImage({ seed: 'web-0.9', tags: ['0.9'], status: 'ARCHIVED' });

  // The posture check's baseline (checks.posture): every repository has a KMS key and a
  // lifecycle policy but api, which the demo shows as one posture warning and in the audit.
  const kms = { type: 'KMS' as const, kmsKey: `arn:aws:kms:${DEMO_REGION}:${DEMO_ACCOUNT}:key/0b6f8e2a-demo-4c1d-9e3f-7a5b2c8d1e4f` };
  const lifecyclePolicy = {
    rules: [
      {
        rulePriority: 1,
        description: 'expire untagged after 14 days',
        selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 },
        action: { type: 'expire' },
      },
    ],
  };
  const baseline = { encryption: kms, lifecyclePolicy };

  const fixture: SandboxFixture = {
    defaultAccount: DEMO_ACCOUNT,
    accounts: {
      [DEMO_ACCOUNT]: {
        regions: {
          [DEMO_REGION]: {
            repositories: [
              { name: 'web', tagMutability: 'IMMUTABLE_WITH_EXCLUSION', exclusionFilters: ['dev-*'], images: [web, unsigned, devSigned, old], ...baseline },
              { name: 'web-migrate', tagMutability: 'IMMUTABLE', images: [migrate], ...baseline },
              { name: 'api', tagMutability: 'IMMUTABLE', images: [api], encryption: kms },
              { name: 'worker', tagMutability: 'MUTABLE', images: [worker], ...baseline },
              { name: 'legacy', tagMutability: 'IMMUTABLE', images: [legacy], ...baseline },
            ],
            // A pull-through cache no repository creation template governs: an audit finding.
            pullThroughCacheRules: [{ ecrRepositoryPrefix: 'docker-hub', upstreamRegistryUrl: 'registry-1.docker.io', upstreamRegistry: 'docker-hub' }],
          },
        },
      },
    },
  };
  return { fixture, trustStorePath };
}
