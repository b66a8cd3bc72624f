// Signatures made by the real cosign CLI (issue 19): images pushed to olareg with oras, signed
// with `cosign sign --key` from key pairs `cosign generate-key-pair` made, in both storage
// schemes cosign has: a Sigstore bundle hung on the image as an OCI 1.1 referrer (cosign 3's
// default) and the older simple-signing layer under the tag sha256-<hex>.sig
// (--new-bundle-format=false). Nothing goes to Sigstore's public services (--tlog-upload=false,
// --use-signing-config=false, a private HOME). The bytes are then read back from olareg, so the
// same images and signatures can be served by the AWS sandbox's ECR API.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cosign, oras, writeSmallImage, type RigOlareg } from '../rig/index.ts';
import type { ImageFixture } from '../../../src/dev/sandbox/index.ts';

export const COSIGN_REPOSITORY = 'cosign/app';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json';

/** bundle: referrer with a Sigstore bundle; tag: sha256-<hex>.sig; other-key: a bundle by an untrusted key. */
export type CosignCase = 'bundle' | 'tag' | 'unsigned' | 'other-key';
export const COSIGN_CASES: readonly CosignCase[] = ['bundle', 'tag', 'unsigned', 'other-key'];

export interface CosignWorld {
  /** PEM public key of the trusted pair (cosign.pub). */
  readonly trustedKeyPem: string;
  readonly trustedKeyPath: string;
  readonly otherKeyPem: string;
  readonly digests: Readonly<Record<CosignCase, string>>;
  /** Every image and signature manifest as read back from olareg (exact bytes), for an ECR fixture. */
  readonly ecrImages: ImageFixture[];
  /** Tags olareg lists after signing. */
  readonly tags: string[];
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function get(url: string, accept?: string): Promise<Uint8Array> {
  const response = await fetch(url, { headers: accept ? { accept } : {}, signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const json = <T>(bytes: Uint8Array): T => JSON.parse(Buffer.from(bytes).toString('utf8')) as T;

interface Manifest {
  config: { digest: string };
  layers: Array<{ digest: string }>;
}

export async function buildCosignWorld(dir: string, registry: RigOlareg): Promise<CosignWorld> {
  const repository = `${registry.host}/${COSIGN_REPOSITORY}`;
  const home = join(dir, 'cosign-home');
  mkdirSync(home, { recursive: true });
  const env = { COSIGN_PASSWORD: '', HOME: home, TUF_ROOT: join(home, 'tuf'), COSIGN_EXPERIMENTAL: '0' };
  await cosign(['generate-key-pair', '--output-key-prefix', 'trusted'], env, home);
  await cosign(['generate-key-pair', '--output-key-prefix', 'other'], env, home);

  const digests = {} as Record<CosignCase, string>;
  for (const name of COSIGN_CASES) {
    const image = writeSmallImage(join(dir, 'images', name), `ecr-admission cosign image ${name}\n`);
    const pushed = await oras(['push', '--plain-http', '--format', 'json', `${repository}:${name}`, ...image.orasPushArgs], { cwd: image.dir });
    digests[name] = (JSON.parse(pushed.stdout) as { digest: string }).digest;
  }
  const sign = (name: CosignCase, key: string, extra: string[] = []) =>
    cosign(
      [
        'sign',
        '--key',
        join(home, `${key}.key`),
        '--tlog-upload=false',
        '--use-signing-config=false',
        '--allow-http-registry',
        '--allow-insecure-registry',
        '--yes',
        ...extra,
        `${repository}@${digests[name]}`,
      ],
      env,
      home,
    );
  await sign('bundle', 'trusted');
  await sign('tag', 'trusted', ['--new-bundle-format=false']);
  await sign('other-key', 'other');

  const base = `${registry.url}/v2/${COSIGN_REPOSITORY}`;
  const ecrImages: ImageFixture[] = [];
  const readImage = async (ref: string, tags: string[]): Promise<void> => {
    const manifest = await get(`${base}/manifests/${ref}`, MANIFEST_ACCEPT);
    if (ref.startsWith('sha256:') && sha256(manifest) !== ref) throw new Error(`olareg served other bytes for ${ref}`);
    const parsed = json<Manifest>(manifest);
    const blobs = await Promise.all([parsed.config, ...parsed.layers].map((d) => get(`${base}/blobs/${d.digest}`)));
    ecrImages.push({ manifest, blobs, tags });
  };
  for (const name of COSIGN_CASES) {
    await readImage(digests[name], [name]);
    const referrers = json<{ manifests?: Array<{ digest: string }> | null }>(
      await get(`${base}/referrers/${digests[name]}?artifactType=${encodeURIComponent(BUNDLE)}`),
    );
    for (const r of referrers.manifests ?? []) await readImage(r.digest, []);
  }
  const tags = json<{ tags: string[] }>(await get(`${base}/tags/list`)).tags;
  for (const tag of tags.filter((t) => t.endsWith('.sig'))) await readImage(tag, [tag]);
  return {
    trustedKeyPem: readFileSync(join(home, 'trusted.pub'), 'utf8'),
    trustedKeyPath: join(home, 'trusted.pub'),
    otherKeyPem: readFileSync(join(home, 'other.pub'), 'utf8'),
    digests,
    ecrImages,
    tags,
  };
}
