// Reading what the registry says about signatures: the referrers index (from the referrers
// API or the sha256-<hex> tag), which of its entries may be Notation signatures, and whether
// a signature manifest has the shape Notation gives it. Pure functions over bytes.
import { isDigest } from './digest.ts';
import { OciContentError, ociError } from './errors.ts';
import { ENVELOPE_MEDIA_TYPES, NOTARY_SIGNATURE_ARTIFACT_TYPE, OCI_MANIFEST, type OciDescriptor } from './types.ts';
import { ErrorCodes } from '../../support/errors.ts';

const CREATED = 'org.opencontainers.image.created';

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function stringRecord(v: unknown): Record<string, string> | undefined {
  const r = asRecord(v);
  if (!r) return undefined;
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(r)) if (typeof value === 'string') out[k] = value;
  return out;
}

/** A descriptor, or undefined when any required field is missing or malformed. */
export function asDescriptor(v: unknown): OciDescriptor | undefined {
  const d = asRecord(v);
  if (!d || typeof d.mediaType !== 'string' || typeof d.digest !== 'string' || !isDigest(d.digest)) return undefined;
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) return undefined;
  const annotations = stringRecord(d.annotations);
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(typeof d.artifactType === 'string' && { artifactType: d.artifactType }),
    ...(annotations && { annotations }),
  };
}

export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    return asRecord(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
  } catch {
    return undefined;
  }
}

/** The descriptors of a referrers index; entries that are not descriptors are dropped. */
export function parseReferrersIndex(bytes: Uint8Array, operation: string, what: string): OciDescriptor[] {
  const index = parseJsonObject(bytes);
  // Go registries (olareg) serialise an empty list as `"manifests": null`: that is "no referrers".
  if (!index || (index.manifests !== undefined && index.manifests !== null && !Array.isArray(index.manifests))) {
    throw ociError(ErrorCodes.AWS_ERROR, operation, `registry answered ${what} with something that is not an OCI image index`);
  }
  const manifests = (index.manifests ?? []) as unknown[];
  return manifests.map(asDescriptor).filter((d): d is OciDescriptor => d !== undefined);
}

/** Whether a referrer may be a Notation signature. Registries may ignore the artifactType
 *  filter, so it is applied here too. A descriptor without artifactType (an older registry
 *  or tag-schema index) may be the legacy form, where only config.mediaType carries the type:
 *  it is kept, and the manifest itself decides. */
export function isSignatureCandidate(d: OciDescriptor, artifactType: string = NOTARY_SIGNATURE_ARTIFACT_TYPE): boolean {
  if (d.mediaType !== OCI_MANIFEST) return false;
  return d.artifactType === undefined || d.artifactType === artifactType;
}

/** Newest first (by the created annotation Notation sets), so a cap keeps the likeliest valid ones. */
export function newestFirst<T extends { readonly annotations?: Readonly<Record<string, string>> }>(items: readonly T[]): T[] {
  const time = (d: T) => {
    const t = Date.parse(d.annotations?.[CREATED] ?? '');
    return Number.isFinite(t) ? t : Number.NEGATIVE_INFINITY;
  };
  return items
    .map((d, i) => ({ d, i, t: time(d) }))
    .sort((a, b) => (b.t === a.t ? a.i - b.i : b.t > a.t ? 1 : -1))
    .map((x) => x.d);
}

/** The order referrers are examined in, so that junk cannot push a signature past the cap:
 *  those that say they are `artifactType` first, then those that say nothing (the legacy form,
 *  or a registry that did not apply the filter), each newest first; any other type is dropped. */
export function signaturesFirst<T extends { readonly artifactType?: string | undefined; readonly annotations?: Readonly<Record<string, string>> | undefined }>(
  items: readonly T[],
  artifactType: string,
): T[] {
  const typed = items.filter((d) => d.artifactType === artifactType);
  const untyped = items.filter((d) => d.artifactType === undefined);
  return [...newestFirst(typed), ...newestFirst(untyped)];
}

export interface SignatureManifest {
  /** The envelope blob's descriptor. */
  readonly layer: OciDescriptor;
  readonly annotations: Record<string, string>;
}

/** Reads a signature manifest. Returns undefined when it is not a Notation signature at all
 *  (a legacy-form candidate that turned out to be something else); throws OciContentError
 *  when it claims to be one but is not shaped like one. */
export function parseSignatureManifest(bytes: Uint8Array, manifestDigest: string, subjectDigest: string, operation: string): SignatureManifest | undefined {
  const manifest = parseJsonObject(bytes);
  const name = `signature manifest ${manifestDigest}`;
  if (!manifest || manifest.schemaVersion !== 2) throw new OciContentError('malformed', operation, `${name} is not an OCI image manifest`);
  if (manifest.mediaType !== undefined && manifest.mediaType !== OCI_MANIFEST) {
    // Parsed JSON: a non-string shows as its JSON text, never as "[object Object]".
    const shown = typeof manifest.mediaType === 'string' ? manifest.mediaType : JSON.stringify(manifest.mediaType);
    throw new OciContentError('malformed', operation, `${name} has media type ${shown.slice(0, 100)}, not ${OCI_MANIFEST}`);
  }
  const config = asRecord(manifest.config);
  const artifactType = typeof manifest.artifactType === 'string' ? manifest.artifactType : config?.mediaType;
  if (artifactType !== NOTARY_SIGNATURE_ARTIFACT_TYPE) return undefined;
  const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
  if (layers.length !== 1) throw new OciContentError('layer-count', operation, `${name} has ${layers.length} layers; a Notation signature has exactly one`);
  const layer = asDescriptor(layers[0]);
  if (!layer) throw new OciContentError('malformed', operation, `${name} has a layer that is not a valid descriptor`);
  const subject = asRecord(manifest.subject);
  if (subject?.digest !== subjectDigest) {
    throw new OciContentError(
      'subject-mismatch',
      operation,
      `${name} is about ${typeof subject?.digest === 'string' ? subject.digest.slice(0, 80) : 'no subject'}, not ${subjectDigest}`,
    );
  }
  if (!ENVELOPE_MEDIA_TYPES.includes(layer.mediaType)) {
    throw new OciContentError(
      'unsupported-envelope',
      operation,
      `${name} carries a ${layer.mediaType.slice(0, 100)} envelope; only ${ENVELOPE_MEDIA_TYPES.join(' and ')} are read`,
    );
  }
  return { layer, annotations: stringRecord(manifest.annotations) ?? {} };
}

/** Next page of a paginated referrers answer: Link: <url>; rel="next" (same origin only). */
export function nextPageUrl(link: string | null, current: URL): URL | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!m || !/\brel\s*=\s*"?next"?/i.test(m[2]!)) continue;
    try {
      const url = new URL(m[1]!, current);
      return url.origin === current.origin ? url : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
