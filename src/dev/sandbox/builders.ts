// Helpers that build manifests, indexes and blobs with correct sha256 digests, so fixtures
// never carry a hand-written digest that could be wrong.
import { createHash } from 'node:crypto';
import type { Bytes, ImageFixture } from './fixture.ts';

export const MediaTypes = {
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  OCI_LAYER: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_EMPTY: 'application/vnd.oci.empty.v1+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_MANIFEST_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DOCKER_MANIFEST_V1: 'application/vnd.docker.distribution.manifest.v1+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  DOCKER_LAYER: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

export function toBytes(b: Bytes): Uint8Array {
  return typeof b === 'string' ? new TextEncoder().encode(b) : b;
}

/** The exact bytes of a manifest given as bytes, a string, or an object (compact JSON). */
export function manifestBytes(manifest: Bytes | object): Uint8Array {
  if (typeof manifest === 'string' || manifest instanceof Uint8Array) return toBytes(manifest);
  return new TextEncoder().encode(JSON.stringify(manifest));
}

export function sha256Digest(data: Bytes | object): string {
  return `sha256:${createHash('sha256').update(manifestBytes(data)).digest('hex')}`;
}

export function blobDescriptor(mediaType: string, data: Bytes): Descriptor {
  const bytes = toBytes(data);
  return { mediaType, digest: sha256Digest(bytes), size: bytes.byteLength };
}

/** The digest ECR and the registry report for this image: sha256 of its exact manifest bytes. */
export function imageDigest(image: ImageFixture): string {
  return sha256Digest(image.manifest);
}

/** The media type an image is stored under: explicit, else the manifest's own field, else
 *  OCI index when it lists `manifests`, else OCI manifest. */
export function imageMediaType(image: ImageFixture): string {
  if (image.mediaType) return image.mediaType;
  const parsed = parseManifestJson(manifestBytes(image.manifest));
  if (parsed && typeof parsed.mediaType === 'string') return parsed.mediaType;
  if (parsed && Array.isArray(parsed.manifests)) return MediaTypes.OCI_INDEX;
  return MediaTypes.OCI_MANIFEST;
}

export function imageDescriptor(image: ImageFixture): Descriptor {
  const bytes = manifestBytes(image.manifest);
  const d: Descriptor = { mediaType: imageMediaType(image), digest: sha256Digest(bytes), size: bytes.byteLength };
  if (image.platform) d.platform = { ...image.platform };
  return d;
}

export function parseManifestJson(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface ImageOptions extends Omit<ImageFixture, 'manifest' | 'mediaType' | 'blobs' | 'children'> {
  /** Layer contents (default: one small layer derived from `seed`). */
  layers?: Bytes[];
  /** Image config object (default: a minimal config for the platform). */
  config?: object;
  annotations?: Record<string, string>;
  /** Distinguishes otherwise identical images (changes the config, so the digest). */
  seed?: string;
  artifactType?: string;
  subject?: Descriptor;
}

/** An OCI image manifest with its config and layer blobs. */
export function ociImage(opts: ImageOptions = {}): ImageFixture {
  return singleImage(opts, 'oci');
}

/** A Docker v2 schema 2 image manifest with its config and layer blobs. */
export function dockerImage(opts: ImageOptions = {}): ImageFixture {
  return singleImage(opts, 'docker');
}

function singleImage(opts: ImageOptions, format: 'oci' | 'docker'): ImageFixture {
  const { layers, config, annotations, seed, artifactType, subject, ...rest } = opts;
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const configObject = config ?? {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Labels: seed ? { 'sandbox.seed': seed } : {} },
    rootfs: { type: 'layers', diff_ids: [] },
  };
  const configBytes = JSON.stringify(configObject);
  const layerBytes = (layers ?? [`layer of ${seed ?? 'image'}`]).map(toBytes);
  const layerType = format === 'oci' ? MediaTypes.OCI_LAYER : MediaTypes.DOCKER_LAYER;
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: format === 'oci' ? MediaTypes.OCI_MANIFEST : MediaTypes.DOCKER_MANIFEST,
    ...(artifactType ? { artifactType } : {}),
    config: blobDescriptor(format === 'oci' ? MediaTypes.OCI_CONFIG : MediaTypes.DOCKER_CONFIG, configBytes),
    layers: layerBytes.map((l) => blobDescriptor(layerType, l)),
    ...(subject ? { subject } : {}),
    ...(annotations ? { annotations } : {}),
  };
  return { ...rest, platform, manifest, blobs: [configBytes, ...layerBytes] };
}

export interface IndexOptions extends Omit<ImageFixture, 'manifest' | 'mediaType' | 'children' | 'platform'> {
  children: ImageFixture[];
  format?: 'oci' | 'docker';
  annotations?: Record<string, string>;
}

/** An OCI image index (or Docker manifest list) over `children`, which stay images of the repository. */
export function ociIndex(opts: IndexOptions): ImageFixture {
  const { children, format, annotations, ...rest } = opts;
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: format === 'docker' ? MediaTypes.DOCKER_MANIFEST_LIST : MediaTypes.OCI_INDEX,
    manifests: children.map(imageDescriptor),
    ...(annotations ? { annotations } : {}),
  };
  return { ...rest, manifest, children };
}
