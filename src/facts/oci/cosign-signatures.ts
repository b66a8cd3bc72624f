// Finds the cosign signatures of a digest in an OCI registry (issue 19): Sigstore bundle
// referrers (the referrers API filtered on the bundle type, or the referrers tag where the
// registry has no API) and cosign's sha256-<hex>.sig tag. Bounded like Notation's signatures
// (registry.ts signatures()): manifest sizes checked against descriptors before and while
// reading, at most maxReferrers examined, a few at a time, reads and bytes from the budget.
// Referrers and tags are what pushers control: their faults are definitive (INVALID_MANIFEST);
// a registry that fails to answer leaves the verdict to onError.
import type { CosignArtifact } from '../../cosign/index.ts';
import {
  cosignSignatureTag,
  parseBundleManifest,
  parseSimpleSigningManifest,
  SIGSTORE_BUNDLE_V03,
  SIMPLE_SIGNING,
  type CosignListing,
} from '../cosign-manifests.ts';
import type { UnreadableSignature } from '../ecr/signatures.ts';
import { FactError } from '../errors.ts';
import { mapBounded } from './pool.ts';
import { isSignatureCandidate, signaturesFirst } from './referrers.ts';
import { OciContentError, type OciDescriptor, type OciRegistryClient } from './registry.ts';
import { EnvelopeBudget, MAX_SIGNATURE_MANIFEST_BYTES } from '../signature-budget.ts';
import { ErrorCodes } from '../../support/errors.ts';

type Result = { artifact: CosignArtifact } | { unreadable: UnreadableSignature } | 'over-budget';

/** The pusher's fault (a definitive rejection), or the registry's (left to onError). */
function unreadable(manifestDigest: string, error: unknown): Result {
  // A referrer or tag the registry lists but cannot serve is the pusher's fault too.
  if (error instanceof FactError && error.code === ErrorCodes.IMAGE_NOT_FOUND)
    return { unreadable: { manifestDigest, error: new FactError(ErrorCodes.INVALID_MANIFEST, 'oci', 'GET manifests', error.message) } };
  if (error instanceof FactError) return { unreadable: { manifestDigest, error } };
  throw error;
}

const malformed = (what: string, reason: string) => new OciContentError('malformed', 'GET manifests', `${what} ${reason}`);

async function bundleOf(
  registry: OciRegistryClient,
  repository: string,
  subject: string,
  d: OciDescriptor,
  signal: AbortSignal,
  budget: EnvelopeBudget,
): Promise<Result> {
  const what = `cosign bundle referrer ${d.digest.slice(0, 19)}`;
  try {
    if (d.size > MAX_SIGNATURE_MANIFEST_BYTES)
      throw malformed(what, `is ${d.size} bytes, over the ${MAX_SIGNATURE_MANIFEST_BYTES}-byte limit of a signature manifest`);
    if (!budget.takeRead()) return 'over-budget';
    const { bytes } = await registry.resolve(repository, { digest: d.digest }, signal);
    if (bytes.byteLength !== d.size) throw malformed(what, `is ${bytes.byteLength} bytes, not the ${d.size} its descriptor states`);
    const manifest = parseBundleManifest(bytes, subject);
    if (!manifest.ok) throw malformed(what, manifest.reason);
    const layer = manifest.layers[0]!;
    if (!budget.take(layer.size)) return 'over-budget';
    const bundle = await registry.blob(repository, { mediaType: SIGSTORE_BUNDLE_V03, digest: layer.digest, size: layer.size }, signal);
    return { artifact: { form: 'bundle', manifestDigest: d.digest, bundle } };
  } catch (error) {
    return unreadable(d.digest, error);
  }
}

async function tagged(
  registry: OciRegistryClient,
  repository: string,
  subject: string,
  signal: AbortSignal,
  budget: EnvelopeBudget,
): Promise<{ results: Result[]; skipped: number }> {
  const tag = cosignSignatureTag(subject);
  if (!budget.takeRead()) return { results: ['over-budget'], skipped: 0 };
  let manifestDigest = tag;
  try {
    let found;
    try {
      found = await registry.resolve(repository, { tag }, signal);
    } catch (error) {
      if (error instanceof FactError && error.code === ErrorCodes.IMAGE_NOT_FOUND) return { results: [], skipped: 0 };
      throw error;
    }
    manifestDigest = found.digest;
    if (found.bytes.byteLength > MAX_SIGNATURE_MANIFEST_BYTES)
      throw malformed(`signature tag ${tag}`, `is over the ${MAX_SIGNATURE_MANIFEST_BYTES}-byte limit of a signature manifest`);
    const manifest = parseSimpleSigningManifest(found.bytes);
    if (!manifest.ok) throw malformed(`signature tag ${tag}`, manifest.reason);
    const digest = manifestDigest;
    const results = await mapBounded(manifest.layers, registry.limits.concurrency, signal, async (layer, s): Promise<Result> => {
      if (!budget.take(layer.size)) return 'over-budget';
      try {
        const payload = await registry.blob(repository, { mediaType: SIMPLE_SIGNING, digest: layer.digest, size: layer.size }, s);
        return { artifact: { form: 'simple-signing', manifestDigest: digest, payload, annotations: layer.annotations } };
      } catch (error) {
        return unreadable(digest, error);
      }
    });
    return { results, skipped: manifest.skipped };
  } catch (error) {
    return { results: [unreadable(manifestDigest, error)], skipped: 0 };
  }
}

/** Every cosign signature of `subject` in `repository`, as found. */
export async function listCosignSignatures(
  registry: OciRegistryClient,
  repository: string,
  subject: string,
  signal: AbortSignal,
  budget: EnvelopeBudget = new EnvelopeBudget(),
): Promise<CosignListing> {
  const listReferred = async (): Promise<{ results: Result[]; truncated: boolean }> => {
    const { descriptors } = await registry.referrers(repository, subject, signal, SIGSTORE_BUNDLE_V03);
    const unique = new Map<string, OciDescriptor>();
    for (const d of descriptors) if (isSignatureCandidate(d, SIGSTORE_BUNDLE_V03) && !unique.has(d.digest)) unique.set(d.digest, d);
    const candidates = signaturesFirst([...unique.values()], SIGSTORE_BUNDLE_V03);
    const examined = candidates.slice(0, registry.limits.maxReferrers);
    const results = await mapBounded(examined, registry.limits.concurrency, signal, (d, s) => bundleOf(registry, repository, subject, d, s, budget));
    return { results: results.filter((r): r is Result => r !== undefined), truncated: candidates.length > examined.length };
  };
  const [referred, tag] = await Promise.all([listReferred(), tagged(registry, repository, subject, signal, budget)]);
  const listing: CosignListing = {
    artifacts: [],
    unreadable: [],
    truncated: referred.truncated,
    overBudget: 0,
    skippedLayers: tag.skipped,
    ...(tag.skipped > 0 && { tag: cosignSignatureTag(subject) }),
  };
  let overBudget = 0;
  for (const r of [...referred.results, ...tag.results]) {
    if (r === 'over-budget') overBudget += 1;
    else if ('artifact' in r) listing.artifacts.push(r.artifact);
    else listing.unreadable.push(r.unreadable);
  }
  return { ...listing, overBudget };
}
