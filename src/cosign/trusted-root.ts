// A Sigstore trusted root (application/vnd.dev.sigstore.trustedroot+json): the Fulcio CAs, Rekor
// logs, CT logs and timestamp authorities keyless signatures are verified against. Read from a
// file when the policy loads, never fetched: admission makes no call to Sigstore. The chart
// ships the public-good instance's root (chart/ecr-admission/files/sigstore-trusted-root.json);
// a policy names another for a private Sigstore.
import { readFileSync } from 'node:fs';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { asRecord, boundedJson } from './json.ts';

/** The public-good root is 9 KB; a private instance's is of the same order. */
const ROOT_BOUNDS = { maxBytes: 1024 * 1024, maxDepth: 12, maxValues: 16_384 } as const;
const MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.trustedroot(\.v0\.\d+)?\+json(;version=0\.\d+)?$/;

export interface LoadedTrustedRoot {
  readonly root: TrustedRoot;
  /** Verification material without public keys: key authorities add their own per verifier. */
  readonly material: TrustMaterial;
}

/** Parses a trusted root; throws an Error saying what is wrong. */
export function parseTrustedRoot(bytes: Uint8Array, what: string): LoadedTrustedRoot {
  const json = boundedJson(bytes, ROOT_BOUNDS, what);
  if (!json.ok) throw new Error(json.reason);
  const record = asRecord(json.value);
  if (!record || typeof record.mediaType !== 'string' || !MEDIA_TYPE.test(record.mediaType))
    throw new Error(`${what} is not a Sigstore trusted root (mediaType application/vnd.dev.sigstore.trustedroot+json)`);
  let root: TrustedRoot;
  let material: TrustMaterial;
  try {
    root = TrustedRoot.fromJSON(record);
    material = toTrustMaterial(root);
  } catch (err) {
    throw new Error(`${what} could not be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (material.certificateAuthorities.length === 0 || material.tlogs.length === 0)
    throw new Error(`${what} names no certificate authority or no transparency log: keyless signatures could not be verified against it`);
  return { root, material };
}

export function loadTrustedRoot(path: string): LoadedTrustedRoot {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read trusted root ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return parseTrustedRoot(bytes, `trusted root ${path}`);
}
