// Shared set-up for the hardening tests: one sandbox fixture with a signed, scanned, clean
// image in an IMMUTABLE repository, a signed image in a MUTABLE repository, an unsigned and a
// vulnerable image, and the policy that turns every check on. Real crypto (an AWS-Signer-
// shaped chain), real SDK clients, the real runtime: nothing here replaces project code.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { buildAwsSignerShapedChain } from '../../src/dev/notation/testchain.ts';
import { signEnvelope } from '../../src/dev/notation/sign.ts';
import { imageDescriptor, ociImage, type ImageFixture, type SandboxFixture, type SignatureFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, REGION } from '../helpers/harness.ts';

export { ACCOUNT, HOST, REGION } from '../helpers/harness.ts';

export const PROFILE = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/release`;
export const VERSION = `${PROFILE}/a1b2c3d4e5`;
export const JOB = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-jobs/1111-2222`;

const chain = await buildAwsSignerShapedChain();
const trustDir = mkdtempSync(join(tmpdir(), 'ecr-admission-hardening-'));
export const ROOT_PEM_PATH = join(trustDir, 'signer-root.pem');
writeFileSync(ROOT_PEM_PATH, chain.rootPem);

export function sign(image: ImageFixture): SignatureFixture {
  const d = imageDescriptor(image);
  const signed = signEnvelope({
    format: 'jws',
    target: { digest: d.digest, mediaType: d.mediaType, size: d.size },
    certificates: chain.certificates,
    privateKey: chain.leafKey,
    aws: { profileVersionArn: VERSION, jobArn: JOB },
  });
  return { envelope: signed.envelope, envelopeMediaType: signed.mediaType };
}

export function signedImage(seed: string, tags: string[]): ImageFixture {
  const image = ociImage({ seed, tags, scanStatus: { status: 'ACTIVE' } });
  image.signatures = [sign(image)];
  return image;
}

/** Every image here is reviewed against `fullPolicy()`. */
export const IMAGES = {
  /** immutable repository, signed, scanned, no findings: allowed. */
  good: signedImage('hardening-good', ['1.0']),
  /** mutable repository, signed, scanned, clean: allowed when immutability is off. */
  mutableA: signedImage('hardening-mutable-a', ['stable']),
  /** mutable repository, not signed: where the tag is moved to. */
  mutableB: ociImage({ seed: 'hardening-mutable-b', scanStatus: { status: 'ACTIVE' } }),
  unsigned: ociImage({ seed: 'hardening-unsigned', tags: ['unsigned'], scanStatus: { status: 'ACTIVE' } }),
  vulnerable: (() => {
    const image = ociImage({
      seed: 'hardening-vulnerable',
      tags: ['vuln'],
      scanStatus: { status: 'ACTIVE' },
      findings: [{ vulnerabilityId: 'CVE-2024-3094', severity: 'CRITICAL', packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }] }],
    });
    image.signatures = [sign(image)];
    return image;
  })(),
};

export function fixture(): SandboxFixture {
  return {
    defaultAccount: ACCOUNT,
    accounts: {
      [ACCOUNT]: {
        regions: {
          [REGION]: {
            repositories: [
              { name: 'app', tagMutability: 'IMMUTABLE', images: [IMAGES.good, IMAGES.unsigned, IMAGES.vulnerable] },
              { name: 'moving', tagMutability: 'MUTABLE', images: [IMAGES.mutableA, IMAGES.mutableB] },
            ],
          },
        },
      },
    },
  };
}

/** Every check on; `extra` is appended (top-level keys: onError, cache, ...). */
export function fullPolicy(options: { onError?: 'deny' | 'allow'; immutability?: boolean; extra?: string } = {}): string {
  return `mode: enforce
onError: ${options.onError ?? 'deny'}
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
  allow: ["registry.k8s.io/pause:*"]
checks:
  immutability: ${options.immutability ?? true}
  signature:
    trustStores: [{ type: signingAuthority, path: ${ROOT_PEM_PATH} }]
    trustedIdentities: ["${PROFILE}"]
  vulnerabilities:
    denySeverities: [CRITICAL]
${options.extra ?? ''}`;
}

/** A pino logger at `level` whose output is kept, for tests that read the logs. */
export function logCapture(level = 'trace'): { logger: Logger; text: () => string; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger: Logger = pino({ level }, stream);
  const text = () => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Heap in use after a full collection, when the process allows forcing one. */
export async function settledHeap(): Promise<number> {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

/** How many cases a property or batch gets: `dflt` times HARDENING_SCALE (default 1), so
 *  HARDENING_SCALE=10 runs every hostile-input property ten times longer. */
export function runs(dflt: number): number {
  const scale = Number(process.env.HARDENING_SCALE ?? 1);
  return Math.max(1, Math.round(dflt * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}
