// Shared setup for the sandbox tests: a small fixture, real SDK clients pointed at the
// sandbox, and teardown. Not a test file itself (tap runs *.test.ts only).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ECRClient } from '@aws-sdk/client-ecr';
import { Inspector2Client } from '@aws-sdk/client-inspector2';
import { SignerClient } from '@aws-sdk/client-signer';
import {
  imageDigest,
  ociImage,
  ociIndex,
  startSandbox,
  type ImageFixture,
  type Sandbox,
  type SandboxFixture,
  type SandboxOptions,
} from '../../../src/dev/sandbox/index.ts';

export const ACCOUNT = '111122223333';
export const OTHER_ACCOUNT = '444455556666';
export const credentials = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox' };

/** The Notary Project test vectors carried in the repository (test/fixtures/notation, see its README). */
export const NOTATION_DIR = resolve(import.meta.dirname, '../../fixtures/notation');
export const notationFile = (name: string): Buffer => readFileSync(resolve(NOTATION_DIR, name));

interface Tap {
  teardown(fn: () => unknown): void;
}

export async function sandbox(t: Tap, fixture: SandboxFixture, opts: Omit<SandboxOptions, 'fixture'> = {}): Promise<Sandbox> {
  const sb = await startSandbox({ fixture, ...opts });
  t.teardown(() => sb.close());
  return sb;
}

export function clients(t: Tap, sb: Sandbox, region = 'us-east-1', extra: { maxAttempts?: number } = {}) {
  const config = { endpoint: sb.url, region, credentials, ...extra };
  const ecr = new ECRClient(config);
  const inspector = new Inspector2Client(config);
  // GetRevocationStatus is modelled with a `data-` host prefix (data-signer.<region>...); with a
  // custom endpoint that prefix would turn 127.0.0.1 into data-127.0.0.1, so it is disabled.
  const signer = new SignerClient({ ...config, disableHostPrefix: true });
  t.teardown(() => {
    ecr.destroy();
    inspector.destroy();
    signer.destroy();
  });
  return { ecr, inspector, signer };
}

export interface Standard {
  fixture: SandboxFixture;
  web: ImageFixture; // web:1.4.2, signed with the JWS test vector, one CRITICAL + one HIGH finding
  old: ImageFixture; // web:1.0.0, archived
  multi: ImageFixture; // web:multi, an index over amd64 + arm64
  amd64: ImageFixture;
  arm64: ImageFixture;
  envelope: Buffer;
}

export function standardFixture(): Standard {
  const envelope = notationFile('ca_valid_sig_env.json');
  const web = ociImage({
    seed: 'web-1.4.2',
    tags: ['1.4.2', 'latest'],
    pushedAt: '2026-03-01T10:00:00Z',
    lastRecordedPullTime: '2026-11-27T08:30:00Z',
    scanStatus: { status: 'ACTIVE', description: 'Continuous scan is selected for image.' },
    inspectorPlatform: 'DEBIAN_12',
    findings: [
      {
        vulnerabilityId: 'CVE-2024-3094',
        severity: 'CRITICAL',
        inspectorScore: 10,
        packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1', packageManager: 'OS' }],
      },
      { vulnerabilityId: 'CVE-2025-1111', severity: 'HIGH', packages: [{ name: 'openssl', version: '3.0.1' }] },
      { vulnerabilityId: 'CVE-2023-0001', severity: 'MEDIUM', status: 'CLOSED', packages: [{ name: 'zlib', version: '1.2' }] },
    ],
    signingStatuses: [{ signingProfileArn: 'arn:aws:signer:us-east-1:111122223333:/signing-profiles/release', status: 'COMPLETE' }],
    signatures: [{ envelope, envelopeMediaType: 'application/jose+json' }],
  });
  const old = ociImage({ seed: 'web-1.0.0', tags: ['1.0.0'], status: 'ARCHIVED', pushedAt: '2025-01-01T00:00:00Z' });
  const amd64 = ociImage({ seed: 'multi-amd64', platform: { os: 'linux', architecture: 'amd64' } });
  const arm64 = ociImage({ seed: 'multi-arm64', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const multi = ociIndex({ tags: ['multi'], children: [amd64, arm64] });
  const fixture: SandboxFixture = {
    defaultAccount: ACCOUNT,
    accounts: {
      [ACCOUNT]: {
        regions: {
          'us-east-1': {
            scanType: 'ENHANCED',
            repositories: [
              { name: 'web', tagMutability: 'IMMUTABLE_WITH_EXCLUSION', exclusionFilters: ['latest', 'dev-*'], scanOnPush: true, images: [web, old, multi] },
              {
                name: 'team/api',
                tagMutability: 'MUTABLE',
                encryption: { type: 'KMS', kmsKey: 'arn:aws:kms:us-east-1:111122223333:key/k1' },
                images: [ociImage({ seed: 'api', tags: ['v1'] })],
              },
            ],
          },
          'us-west-2': {
            scanType: 'BASIC',
            repositories: [
              {
                name: 'web',
                tagMutability: 'IMMUTABLE',
                images: [
                  ociImage({
                    seed: 'web-west',
                    tags: ['1.4.2'],
                    scanStatus: { status: 'COMPLETE' },
                    basicFindings: [{ name: 'CVE-2022-0001', severity: 'HIGH', uri: 'https://example.invalid/CVE-2022-0001' }],
                  }),
                ],
              },
            ],
          },
        },
      },
      [OTHER_ACCOUNT]: {
        regions: {
          'us-east-1': {
            repositories: [
              {
                name: 'web',
                images: [
                  ociImage({
                    seed: 'other-web',
                    tags: ['1.4.2'],
                    scanStatus: { status: 'ACTIVE' },
                    findings: [{ vulnerabilityId: 'CVE-2024-9999', severity: 'LOW', packages: [{ name: 'curl', version: '8.0' }] }],
                  }),
                ],
              },
            ],
          },
        },
      },
    },
  };
  return { fixture, web, old, multi, amd64, arm64, envelope };
}

export { imageDigest };
