// Reads the manifest bytes ECR returns: checks they hash to the digest and, for an index,
// lists its platform manifests.
import { createHash } from 'node:crypto';
import type { PlatformManifest, ResolvedImage } from '../checks/types.ts';
import { FactError } from './errors.ts';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

/** Every manifest type: without the index types ECR answers an index request with an error. */
export const ACCEPTED_MEDIA_TYPES = Object.values(MEDIA_TYPES);

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex]);

export function sha256Digest(bytes: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface IndexEntry {
  digest?: unknown;
  mediaType?: unknown;
  size?: unknown;
  platform?: { os?: unknown; architecture?: unknown; variant?: unknown };
  annotations?: Record<string, unknown>;
}

function platformOf(entry: IndexEntry): string | undefined {
  const p = entry.platform;
  if (!p || typeof p.os !== 'string' || typeof p.architecture !== 'string') return undefined;
  // BuildKit stores attestations as index entries for "unknown/unknown": not a runnable platform.
  if (p.os === 'unknown' || entry.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return undefined;
  return [p.os, p.architecture, typeof p.variant === 'string' ? p.variant : undefined].filter(Boolean).join('/');
}

export function describeManifest(manifest: string, digest: string, declaredMediaType: string | undefined, where: { service: string; operation: string }): ResolvedImage {
  const bytes = Buffer.from(manifest, 'utf8');
  if (!digest.startsWith('sha256:') || sha256Digest(bytes) !== digest) {
    throw new FactError('INVALID_MANIFEST', where.service, where.operation, `manifest bytes do not hash to ${digest}`);
  }
  let parsed: { mediaType?: unknown; manifests?: unknown };
  try {
    parsed = JSON.parse(manifest) as typeof parsed;
  } catch {
    throw new FactError('INVALID_MANIFEST', where.service, where.operation, `manifest ${digest} is not JSON`);
  }
  const mediaType = declaredMediaType ?? (typeof parsed.mediaType === 'string' ? parsed.mediaType : MEDIA_TYPES.ociManifest);
  const resolved: ResolvedImage = { digest, mediaType, size: bytes.length };
  if (!INDEX_TYPES.has(mediaType)) return resolved;
  const platforms: PlatformManifest[] = [];
  for (const entry of Array.isArray(parsed.manifests) ? (parsed.manifests as IndexEntry[]) : []) {
    const platform = platformOf(entry);
    if (platform === undefined || typeof entry.digest !== 'string' || typeof entry.size !== 'number') continue;
    platforms.push({ digest: entry.digest, mediaType: typeof entry.mediaType === 'string' ? entry.mediaType : MEDIA_TYPES.ociManifest, size: entry.size, platform });
  }
  return { ...resolved, platforms };
}
