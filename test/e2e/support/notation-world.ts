// Signatures made by the reference implementation: images pushed to olareg with oras, signed by
// the real `notation sign` (JWS and COSE envelopes, a key from `notation cert generate-test`,
// referrers API instead of the sha256-<hex> tag schema), then read back byte for byte from
// olareg so the same image and signature bytes can be served by the AWS sandbox's ECR API.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { notation, notationConfigDir, notationEnv, oras, writeSmallImage, type RigOlareg } from '../rig/index.ts';
import type { ImageFixture, SignatureFixture } from '../../../src/dev/sandbox/index.ts';

export const NOTATION_REPOSITORY = 'notation/app';
const SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json';

export type NotationCase = 'jws' | 'cose' | 'unsigned' | 'other-key';

export interface NotationWorld {
  /** The trusted test certificate notation generated (its own CA: trust store type ca). */
  readonly trustedCertPem: string;
  /** `x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=...` of that certificate. */
  readonly trustedIdentity: string;
  /** Digest of each pushed image, by case (the tag is the case name). */
  readonly digests: Readonly<Record<NotationCase, string>>;
  /** Each image as read back from olareg (exact bytes) with its signatures, for an ECR fixture. */
  readonly ecrImages: ImageFixture[];
  /** Tags olareg lists for the repository after signing. */
  readonly tags: string[];
  /** Media types of the signature envelopes olareg holds, by case. */
  readonly envelopeTypes: Readonly<Partial<Record<NotationCase, string[]>>>;
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function get(url: string, accept?: string): Promise<Uint8Array> {
  const response = await fetch(url, { headers: accept ? { accept } : {}, signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const json = <T>(bytes: Uint8Array): T => JSON.parse(Buffer.from(bytes).toString('utf8')) as T;

export async function buildNotationWorld(dir: string, registry: RigOlareg): Promise<NotationWorld> {
  const repository = `${registry.host}/${NOTATION_REPOSITORY}`;
  const env = notationEnv(join(dir, 'notation'));
  await notation(['cert', 'generate-test', '--default', 'e2e-release'], env);
  await notation(['cert', 'generate-test', 'e2e-other'], env);

  const cases: NotationCase[] = ['jws', 'cose', 'unsigned', 'other-key'];
  const digests = {} as Record<NotationCase, string>;
  for (const name of cases) {
    const image = writeSmallImage(join(dir, 'images', name), `ecr-admission e2e image ${name}\n`);
    const pushed = await oras(['push', '--plain-http', '--format', 'json', `${repository}:${name}`, ...image.orasPushArgs], { cwd: image.dir });
    digests[name] = (JSON.parse(pushed.stdout) as { digest: string }).digest;
  }
  const sign = (name: NotationCase, format: 'jws' | 'cose', key?: string) =>
    notation(
      [
        'sign',
        '--insecure-registry',
        '--signature-format',
        format,
        '--force-referrers-tag=false',
        ...(key ? ['--key', key] : []),
        `${repository}@${digests[name]}`,
      ],
      env,
    );
  await sign('jws', 'jws');
  await sign('cose', 'cose');
  await sign('other-key', 'jws', 'e2e-other');

  const certPath = join(notationConfigDir(env), 'truststore', 'x509', 'ca', 'e2e-release', 'e2e-release.crt');
  const trustedCertPem = readFileSync(certPath, 'utf8');
  const subject = new X509Certificate(trustedCertPem).subject.split('\n').join(', ');

  const base = `${registry.url}/v2/${NOTATION_REPOSITORY}`;
  const ecrImages: ImageFixture[] = [];
  const envelopeTypes: Partial<Record<NotationCase, string[]>> = {};
  for (const name of cases) {
    const manifestBytes = await get(`${base}/manifests/${digests[name]}`, MANIFEST_ACCEPT);
    if (sha256(manifestBytes) !== digests[name]) throw new Error(`olareg served other bytes for ${name}`);
    const manifest = json<{ config: { digest: string }; layers: Array<{ digest: string }> }>(manifestBytes);
    const blobs = await Promise.all([manifest.config, ...manifest.layers].map((d) => get(`${base}/blobs/${d.digest}`)));

    const referrers = json<{ manifests?: Array<{ digest: string }> | null }>(
      await get(`${base}/referrers/${digests[name]}?artifactType=${encodeURIComponent(SIGNATURE_ARTIFACT_TYPE)}`),
    );
    const signatures: SignatureFixture[] = [];
    for (const referrer of referrers.manifests ?? []) {
      const signatureManifest = json<{ layers: Array<{ digest: string; mediaType: string }> }>(
        await get(`${base}/manifests/${referrer.digest}`, MANIFEST_ACCEPT),
      );
      for (const layer of signatureManifest.layers) {
        if (layer.mediaType !== 'application/jose+json' && layer.mediaType !== 'application/cose')
          throw new Error(`unexpected envelope type ${layer.mediaType}`);
        signatures.push({ envelope: await get(`${base}/blobs/${layer.digest}`), envelopeMediaType: layer.mediaType });
      }
    }
    envelopeTypes[name] = signatures.map((s) => s.envelopeMediaType);
    ecrImages.push({ manifest: manifestBytes, blobs, tags: [name], signatures });
  }
  const tags = json<{ tags: string[] }>(await get(`${base}/tags/list`)).tags;
  return { trustedCertPem, trustedIdentity: `x509.subject: ${subject}`, digests, ecrImages, tags, envelopeTypes };
}
