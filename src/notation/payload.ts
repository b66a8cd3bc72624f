// The Notary Project payload (signature-specification.md, "Payload"): a JSON document
// whose targetArtifact is the OCI descriptor that was signed. Read only after the
// signature over it has verified.
import { describe } from './envelope.ts';
import { failure, parsed, type Parsed } from './errors.ts';
import { parseBoundedJson, type JsonLimits } from './json.ts';
import type { TargetDescriptor } from './types.ts';
import { ErrorCodes } from '../support/errors.ts';

export interface NotaryPayload {
  targetArtifact: TargetDescriptor & { annotations?: Record<string, string>; artifactType?: string };
}

/**
 * A real payload is an object holding targetArtifact holding annotations (depth 3), a few
 * hundred bytes; user metadata (notation sign --user-metadata) adds annotations, hence room.
 */
const PAYLOAD_JSON: JsonLimits = { maxBytes: 32 * 1024, maxDepth: 4, maxValues: 1024 };

export function parsePayload(bytes: Uint8Array): Parsed<NotaryPayload> {
  const parsedDoc = parseBoundedJson(bytes, PAYLOAD_JSON, 'the signed payload');
  if (!parsedDoc.ok) return parsedDoc;
  const doc = parsedDoc.value;
  const target = (doc as { targetArtifact?: unknown } | null)?.targetArtifact;
  if (typeof target !== 'object' || target === null || Array.isArray(target)) {
    return failure(ErrorCodes.PARSE, 'the signed payload has no targetArtifact object');
  }
  const t = target as Record<string, unknown>;
  if (typeof t.digest !== 'string' || typeof t.mediaType !== 'string' || typeof t.size !== 'number') {
    return failure(ErrorCodes.PARSE, 'the signed targetArtifact needs string digest and mediaType and a numeric size');
  }
  if (!Number.isSafeInteger(t.size) || t.size < 0) return failure(ErrorCodes.PARSE, `the signed size ${describe(t.size)} is invalid`);
  if (t.annotations !== undefined) {
    const a = t.annotations;
    if (typeof a !== 'object' || a === null || Array.isArray(a) || !Object.values(a).every((v) => typeof v === 'string')) {
      return failure(ErrorCodes.PARSE, 'the signed targetArtifact annotations must map strings to strings');
    }
  }
  return parsed({
    targetArtifact: {
      digest: t.digest,
      mediaType: t.mediaType,
      size: t.size,
      ...(t.annotations !== undefined && { annotations: t.annotations as Record<string, string> }),
      ...(typeof t.artifactType === 'string' && { artifactType: t.artifactType }),
    },
  });
}

/** Digest, media type and size must all equal the descriptor being admitted. */
export function targetMismatch(signed: TargetDescriptor, expected: TargetDescriptor): string | undefined {
  if (signed.digest !== expected.digest) {
    return `the signature is for ${describe(signed.digest)}, not ${expected.digest}`;
  }
  if (signed.mediaType !== expected.mediaType) {
    return `the signature is for media type ${describe(signed.mediaType)}, not ${expected.mediaType}`;
  }
  if (signed.size !== expected.size) return `the signature is for size ${signed.size}, not ${expected.size}`;
  return undefined;
}
