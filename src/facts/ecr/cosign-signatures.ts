// Finds the cosign signatures of a digest through the ECR API (issue 19): Sigstore bundle
// referrers (ListImageReferrers filtered on the bundle type, then BatchGetImage and the layer
// download per referrer) and the tag sha256-<hex>.sig (BatchGetImage by tag, then each
// simple-signing layer). Bounded as Notation's signatures are (signature-budget.ts): manifest
// sizes, referrers examined, reads and bytes per image check, a few referrers at a time; and who
// is to blame decides the same way (ecr/signatures.ts): what a pusher controls is a definitive
// rejection, AWS's faults leave the verdict to onError.
import { BatchGetImageCommand, ImageFailureCode, type ImageReferrer } from '@aws-sdk/client-ecr';
import type { AwsClients } from '../aws-clients.ts';
import type { EcrImageLocation } from '../ports.ts';
import { fromAwsError } from '../errors.ts';
import { MEDIA_TYPES, sha256Digest } from '../manifest.ts';
import { mapBounded } from '../oci/pool.ts';
import { signaturesFirst } from '../oci/referrers.ts';
import { EnvelopeBudget, MAX_REFERRERS, MAX_SIGNATURE_MANIFEST_BYTES, REFERRER_FETCH_CONCURRENCY } from '../signature-budget.ts';
import {
  cosignSignatureTag,
  parseBundleManifest,
  parseSimpleSigningManifest,
  SIGSTORE_BUNDLE_V03,
  type CosignListing,
  type CosignManifest,
} from '../cosign-manifests.ts';
import { badArtifact, batchGetFailure, referrersPage, servedWrongBytes, type EcrSignatureSource, type UnreadableSignature } from './signatures.ts';
import type { CosignArtifact } from '../../cosign/index.ts';

type Read = { artifacts: CosignArtifact[]; unreadable: UnreadableSignature[]; overBudget: number; truncated: boolean; skippedLayers: number; tag?: string };
const none = (): Read => ({ artifacts: [], unreadable: [], overBudget: 0, truncated: false, skippedLayers: 0 });

export class EcrCosignSource {
  readonly #clients: AwsClients;
  readonly #blobs: EcrSignatureSource;

  constructor(clients: AwsClients, blobs: EcrSignatureSource) {
    this.#clients = clients;
    this.#blobs = blobs;
  }

  async list(loc: EcrImageLocation, subjectDigest: string, signal: AbortSignal, budget: EnvelopeBudget = new EnvelopeBudget()): Promise<CosignListing> {
    const [referred, tagged] = await Promise.all([this.#referred(loc, subjectDigest, signal, budget), this.#tagged(loc, subjectDigest, signal, budget)]);
    return {
      artifacts: [...referred.artifacts, ...tagged.artifacts],
      unreadable: [...referred.unreadable, ...tagged.unreadable],
      truncated: referred.truncated,
      overBudget: referred.overBudget + tagged.overBudget,
      skippedLayers: tagged.skippedLayers,
      ...(tagged.tag !== undefined && { tag: tagged.tag }),
    };
  }

  /** Bundle referrers: one page of 50 (ListImageReferrersRequest maxResults, at most 50 in the
   *  SDK's model); a next page means more than are examined. */
  async #referred(loc: EcrImageLocation, subjectDigest: string, signal: AbortSignal, budget: EnvelopeBudget): Promise<Read> {
    const { referrers: listed, nextToken } = await referrersPage(this.#clients, loc, subjectDigest, SIGSTORE_BUNDLE_V03, signal);
    const candidates = signaturesFirst(listed, SIGSTORE_BUNDLE_V03);
    const examined = candidates.slice(0, MAX_REFERRERS);
    const out = none();
    out.truncated = nextToken !== undefined || candidates.length > examined.length;
    const results = await mapBounded(examined, REFERRER_FETCH_CONCURRENCY, signal, (r, s) => this.#bundle(loc, subjectDigest, r, s, budget));
    for (const r of results) collect(out, r);
    return out;
  }

  async #bundle(loc: EcrImageLocation, subjectDigest: string, r: ImageReferrer, signal: AbortSignal, budget: EnvelopeBudget): Promise<Result> {
    const manifestDigest = r.digest!;
    const name = `cosign bundle referrer ${manifestDigest.slice(0, 19)}`;
    try {
      if (typeof r.size === 'number' && r.size > MAX_SIGNATURE_MANIFEST_BYTES)
        throw badArtifact('BatchGetImage', `${name} is ${r.size} bytes, over the ${MAX_SIGNATURE_MANIFEST_BYTES}-byte limit of a signature manifest`);
      if (!budget.takeRead()) return 'over-budget';
      const text = await this.#manifest(loc, { imageDigest: manifestDigest }, name, signal);
      if (text === undefined) throw badArtifact('BatchGetImage', `${name} is listed but cannot be read`);
      const manifest = parseBundleManifest(Buffer.from(text.manifest, 'utf8'), subjectDigest);
      const layer = layersOf(manifest, name)[0]!;
      if (!budget.take(layer.size)) return 'over-budget';
      const bundle = await this.#blobs.layer(loc, layer.digest, layer.size, name, signal);
      return { artifact: { form: 'bundle', manifestDigest, bundle } };
    } catch (error) {
      return { unreadable: { manifestDigest, error: fromAwsError(error, 'ecr', 'BatchGetImage') } };
    }
  }

  /** The sha256-<hex>.sig tag: absent is no signature; its layers are read within the budget. */
  async #tagged(loc: EcrImageLocation, subjectDigest: string, signal: AbortSignal, budget: EnvelopeBudget): Promise<Read> {
    const tag = cosignSignatureTag(subjectDigest);
    const out = none();
    if (!budget.takeRead()) {
      out.overBudget += 1;
      return out;
    }
    let got: { manifest: string; digest: string } | undefined;
    try {
      got = await this.#manifest(loc, { imageTag: tag }, `signature tag ${tag}`, signal);
    } catch (error) {
      collect(out, { unreadable: { manifestDigest: tag, error: fromAwsError(error, 'ecr', 'BatchGetImage') } });
      return out;
    }
    if (!got) return out;
    const manifestDigest = got.digest;
    const name = `signature tag ${tag}`;
    const manifest = parseSimpleSigningManifest(Buffer.from(got.manifest, 'utf8'));
    if (!manifest.ok) {
      collect(out, { unreadable: { manifestDigest, error: badArtifact('BatchGetImage', `${name} ${manifest.reason}`) } });
      return out;
    }
    out.skippedLayers = manifest.skipped;
    out.tag = tag;
    const results = await mapBounded(manifest.layers, REFERRER_FETCH_CONCURRENCY, signal, async (layer, s): Promise<Result> => {
      if (!budget.take(layer.size)) return 'over-budget';
      try {
        const payload = await this.#blobs.layer(loc, layer.digest, layer.size, `${name} layer ${layer.digest.slice(0, 19)}`, s);
        return { artifact: { form: 'simple-signing', manifestDigest, payload, annotations: layer.annotations } };
      } catch (error) {
        return { unreadable: { manifestDigest, error: fromAwsError(error, 'ecr', 'GetDownloadUrlForLayer') } };
      }
    });
    for (const r of results) collect(out, r);
    return out;
  }

  /** BatchGetImage of one manifest, its size and digest checked; undefined when ECR has no such image (ImageNotFound, ImageTagDoesNotMatchDigest). */
  async #manifest(
    loc: EcrImageLocation,
    imageId: { imageDigest: string } | { imageTag: string },
    name: string,
    signal: AbortSignal,
  ): Promise<{ manifest: string; digest: string } | undefined> {
    const got = await this.#clients.ecr(loc.accountId, loc.region).send(
      new BatchGetImageCommand({
        registryId: loc.accountId,
        repositoryName: loc.repository,
        imageIds: [imageId],
        acceptedMediaTypes: [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest],
      }),
      { abortSignal: signal },
    );
    const image = got.images?.[0];
    if (!image?.imageManifest) {
      const failure = got.failures?.[0];
      if (
        'imageTag' in imageId &&
        (failure === undefined || failure.failureCode === ImageFailureCode.ImageNotFound || failure.failureCode === ImageFailureCode.ImageTagDoesNotMatchDigest)
      )
        return undefined;
      throw batchGetFailure(failure, name);
    }
    const text = image.imageManifest;
    if (Buffer.byteLength(text, 'utf8') > MAX_SIGNATURE_MANIFEST_BYTES)
      throw badArtifact('BatchGetImage', `${name} is over the ${MAX_SIGNATURE_MANIFEST_BYTES}-byte limit of a signature manifest`);
    const digest = 'imageDigest' in imageId ? imageId.imageDigest : (image.imageId?.imageDigest ?? '');
    if (sha256Digest(Buffer.from(text, 'utf8')) !== digest) {
      if (text.includes('\uFFFD')) throw badArtifact('BatchGetImage', `${name} is not valid UTF-8, so its digest cannot be checked`);
      throw servedWrongBytes('BatchGetImage', `returned ${name} with bytes that do not hash to its digest`);
    }
    return { manifest: text, digest };
  }
}

type Result = { artifact: CosignArtifact } | { unreadable: UnreadableSignature } | 'over-budget';

function collect(out: Read, r: Result | undefined): void {
  if (r === undefined) return;
  if (r === 'over-budget') out.overBudget += 1;
  else if ('artifact' in r) out.artifacts.push(r.artifact);
  else out.unreadable.push(r.unreadable);
}

/** The layers of a well-shaped cosign manifest; a malformed one is the pusher's fault. */
function layersOf(manifest: CosignManifest, name: string): Extract<CosignManifest, { ok: true }>['layers'] {
  if (!manifest.ok) throw badArtifact('BatchGetImage', `${name} ${manifest.reason}`);
  return manifest.layers;
}
