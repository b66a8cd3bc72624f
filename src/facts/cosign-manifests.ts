// The two shapes cosign stores signatures in (issue 19), read from digest-checked manifest
// bytes before any blob is fetched. Pure functions; both the ECR API and the OCI client use them.
//
// - A Sigstore bundle referrer (cosign 2.x/3.x, OCI 1.1 referrers): an OCI manifest whose
//   artifactType (or config media type) is the bundle type, with one layer, the bundle, and a
//   subject that is the image.
// - The tag scheme sha256-<hex>.sig (cosign's older format): a manifest whose layers are
//   simple-signing payloads, one per signature, each with its signature in an annotation.
import { SIGSTORE_BUNDLE_V03, SIMPLE_SIGNING, type CosignArtifact } from '../cosign/index.ts';
import type { UnreadableSignature } from './ecr/signatures.ts';
import { isDigest } from './oci/digest.ts';
import { MAX_ENVELOPE_BYTES } from './signature-budget.ts';

export { SIGSTORE_BUNDLE_V03, SIMPLE_SIGNING };

/** Layers of a .sig manifest examined: cosign appends one per `cosign sign`; more are not read. */
export const MAX_SIMPLE_SIGNING_LAYERS = 16;
/** The payload blob of a simple-signing layer is a few hundred bytes. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Annotations of one layer, in bytes: the signature, a certificate and chain, a Rekor bundle. */
const MAX_ANNOTATION_BYTES = 48 * 1024;

export interface BlobRef {
  readonly digest: string;
  readonly size: number;
}

export type CosignManifest =
  | { readonly ok: true; readonly layers: ReadonlyArray<BlobRef & { readonly annotations: Readonly<Record<string, string>> }>; readonly skipped: number }
  | { readonly ok: false; readonly reason: string };

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function manifestOf(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    return record(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
  } catch {
    return undefined;
  }
}

function blob(layer: unknown, mediaType: string, maxBytes: number): (BlobRef & { annotations: Record<string, string> }) | string {
  const l = record(layer);
  if (!l || typeof l.digest !== 'string' || !isDigest(l.digest) || !Number.isSafeInteger(l.size) || (l.size as number) < 0)
    return 'has a layer that is not a descriptor';
  if (l.mediaType !== mediaType) return `has a layer of media type ${String(l.mediaType).slice(0, 100)}, not ${mediaType}`;
  if ((l.size as number) > maxBytes) return `has a ${l.size as number}-byte layer, over the ${maxBytes}-byte limit`;
  const annotations: Record<string, string> = {};
  let bytes = 0;
  for (const [k, v] of Object.entries(record(l.annotations) ?? {})) {
    if (typeof v !== 'string') continue;
    bytes += k.length + v.length;
    annotations[k] = v;
  }
  if (bytes > MAX_ANNOTATION_BYTES) return `has ${bytes} bytes of layer annotations, over the ${MAX_ANNOTATION_BYTES}-byte limit`;
  return { digest: l.digest, size: l.size as number, annotations };
}

/** A bundle referrer's manifest: one bundle layer, about `subjectDigest`. */
export function parseBundleManifest(bytes: Uint8Array, subjectDigest: string): CosignManifest {
  const m = manifestOf(bytes);
  if (!m || m.schemaVersion !== 2) return { ok: false, reason: 'is not an OCI image manifest' };
  const type = typeof m.artifactType === 'string' ? m.artifactType : record(m.config)?.mediaType;
  if (type !== SIGSTORE_BUNDLE_V03) return { ok: false, reason: `is not a Sigstore bundle (artifact type ${String(type).slice(0, 100)})` };
  if (record(m.subject)?.digest !== subjectDigest) return { ok: false, reason: 'has a subject other than the image' };
  const layers = Array.isArray(m.layers) ? m.layers : [];
  if (layers.length !== 1) return { ok: false, reason: `has ${layers.length} layers; a bundle referrer has exactly one` };
  const layer = blob(layers[0], SIGSTORE_BUNDLE_V03, MAX_ENVELOPE_BYTES);
  return typeof layer === 'string' ? { ok: false, reason: layer } : { ok: true, layers: [layer], skipped: 0 };
}

/** The sha256-<hex>.sig manifest: simple-signing layers, at most MAX_SIMPLE_SIGNING_LAYERS read. */
export function parseSimpleSigningManifest(bytes: Uint8Array): CosignManifest {
  const m = manifestOf(bytes);
  if (!m || m.schemaVersion !== 2) return { ok: false, reason: 'is not an image manifest' };
  const all = Array.isArray(m.layers) ? m.layers : [];
  if (all.length === 0) return { ok: false, reason: 'has no signature layers' };
  const out = [];
  for (const layer of all.slice(0, MAX_SIMPLE_SIGNING_LAYERS)) {
    const ref = blob(layer, SIMPLE_SIGNING, MAX_PAYLOAD_BYTES);
    if (typeof ref === 'string') return { ok: false, reason: ref };
    out.push(ref);
  }
  return { ok: true, layers: out, skipped: Math.max(0, all.length - MAX_SIMPLE_SIGNING_LAYERS) };
}

/** cosign's signature tag for a digest: sha256:<hex> -> sha256-<hex>.sig */
export function cosignSignatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** The cosign signatures of one digest, wherever they were found, within the image check's budget. */
export interface CosignListing {
  readonly artifacts: CosignArtifact[];
  readonly unreadable: UnreadableSignature[];
  /** More bundle referrers than are examined. */
  readonly truncated: boolean;
  /** Layers of the sha256-<hex>.sig tag past MAX_SIMPLE_SIGNING_LAYERS, not examined. */
  readonly skippedLayers: number;
  /** The tag those layers are in (for the message). */
  readonly tag?: string;
  /** Signatures not read because the image check's budget was spent. */
  readonly overBudget: number;
}
