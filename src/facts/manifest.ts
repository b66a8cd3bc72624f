// Reads the manifest bytes ECR or a registry returns: checks they hash to the digest and, for
// an index, lists every child a node could pull. The index is attacker-controlled input: an
// entry this code cannot account for is a refusal, never a silent skip.
import { createHash } from 'node:crypto';
import type { PlatformManifest, ResolvedImage } from './ports.ts';
import { FactError } from './errors.ts';
import { isDigest } from './oci/digest.ts';
import { ErrorCodes } from '../support/errors.ts';

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

/** More platforms than any real image has (BuildKit's widest builds list about a dozen, plus
 *  as many attestations): each child costs signature and scan lookups, so it is bounded. */
export const MAX_INDEX_CHILDREN = 64;

/** The label of a child whose entry names no platform: containerd pulls it on any node. */
export const UNSPECIFIED_PLATFORM = 'unspecified';

/** An index the webhook refuses to vouch for (a malformed entry, a nested index, too many
 *  children). Definitive, like a manifest that does not match its digest: the check fails. */
export class UncheckableIndexError extends FactError {
  constructor(where: { service: string; operation: string }, message: string) {
    super(ErrorCodes.INVALID_MANIFEST, where.service, where.operation, message);
    this.name = 'UncheckableIndexError';
  }
}

export function sha256Digest(bytes: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Which child an entry is, or undefined for an entry no runtime selects. containerd's platform
 * filter (images.FilterPlatforms, images.Manifest) keeps an entry without a platform on every
 * node and never reads annotations, so neither a missing platform nor an annotation such as
 * `vnd.docker.reference.type: attestation-manifest` makes an entry skippable. Only a platform
 * whose os is "unknown" (BuildKit's attestation manifests say so: unknown/unknown) matches no
 * node: containerd normalises the os to lower case before comparing, and so does this.
 */
function childOf(entry: unknown, index: number, where: { service: string; operation: string }): PlatformManifest | undefined {
  const bad = (why: string) => new UncheckableIndexError(where, `index entry ${index} ${why}`);
  if (!isObject(entry)) throw bad('is not an object');
  const { digest, size, mediaType, platform } = entry;
  if (typeof digest !== 'string' || !isDigest(digest))
    throw bad(`has no sha256 digest (${typeof digest === 'string' ? `'${digest.slice(0, 80)}'` : typeof digest})`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad(`(${digest}) has no valid size`);
  if (mediaType !== undefined && typeof mediaType !== 'string') throw bad(`(${digest}) has a mediaType that is not a string`);
  let label = UNSPECIFIED_PLATFORM;
  if (platform !== undefined) {
    // A platform that is there but unreadable fails a pull (containerd cannot decode it):
    // refusing it costs nothing real and leaves no room for a parser difference.
    if (
      !isObject(platform) ||
      typeof platform.os !== 'string' ||
      typeof platform.architecture !== 'string' ||
      (platform.variant !== undefined && typeof platform.variant !== 'string')
    ) {
      throw bad(`(${digest}) has a platform without string os and architecture`);
    }
    if (platform.os.toLowerCase() === 'unknown') return undefined;
    label = [platform.os, platform.architecture, platform.variant].filter((p) => typeof p === 'string' && p !== '').join('/');
  }
  // containerd follows a nested index to its own children: checking only its digest would let
  // them through, so it is refused (after the os check: an attestation may be anything).
  if (typeof mediaType === 'string' && INDEX_TYPES.has(mediaType)) {
    throw bad(`(${digest}) is itself an index; nested indexes are not checked`);
  }
  return { digest, mediaType: mediaType ?? MEDIA_TYPES.ociManifest, size, platform: label };
}

/** Every child of an index a node could pull, each once, in the index's order. */
function childrenOf(manifests: unknown, where: { service: string; operation: string }): PlatformManifest[] {
  if (manifests === undefined || manifests === null) return [];
  if (!Array.isArray(manifests)) throw new UncheckableIndexError(where, "the index's manifests field is not a list");
  const children = new Map<string, PlatformManifest>();
  let selectable = 0;
  for (const [i, entry] of manifests.entries()) {
    const child = childOf(entry, i, where);
    if (child === undefined) continue;
    if (++selectable > MAX_INDEX_CHILDREN) {
      throw new UncheckableIndexError(where, `the index lists more than ${MAX_INDEX_CHILDREN} platform manifests`);
    }
    if (!children.has(child.digest)) children.set(child.digest, child);
  }
  return [...children.values()];
}

export function describeManifest(
  manifest: string,
  digest: string,
  declaredMediaType: string | undefined,
  where: { service: string; operation: string },
): ResolvedImage {
  const bytes = Buffer.from(manifest, 'utf8');
  if (!digest.startsWith('sha256:') || sha256Digest(bytes) !== digest) {
    throw new FactError(ErrorCodes.INVALID_MANIFEST, where.service, where.operation, `manifest bytes do not hash to ${digest}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifest);
  } catch {
    throw new FactError(ErrorCodes.INVALID_MANIFEST, where.service, where.operation, `manifest ${digest} is not JSON`);
  }
  const body = isObject(parsed) ? parsed : {};
  const mediaType = declaredMediaType ?? (typeof body.mediaType === 'string' ? body.mediaType : MEDIA_TYPES.ociManifest);
  const resolved: ResolvedImage = { digest, mediaType, size: bytes.length };
  if (!INDEX_TYPES.has(mediaType)) return resolved;
  if (!isObject(parsed)) throw new UncheckableIndexError(where, `index ${digest} is not a JSON object`);
  return { ...resolved, platforms: childrenOf(body.manifests, where) };
}
