// Finds the Notation signatures of a digest through the ECR API: ListImageReferrers, then per
// referrer BatchGetImage (the signature manifest) and GetDownloadUrlForLayer + GET (the
// envelope), with the manifest's shape, digest and size checked before anything is parsed.
// Bounded (signature-budget.ts): manifest and envelope sizes before download and while
// reading, a few referrers at a time, and signature manifests read and envelope bytes per
// image check.
//
// Who is to blame decides what a failure means: a referrer is input the requester controls
// (anyone who can push to the repository can hang one on the image), so a referrer that is
// missing, malformed, oversized, or whose manifest declares a size its envelope does not have,
// is a definitive rejection of that referrer (a denial when nothing valid is found, whatever
// onError says). AWS's own faults (throttling, 5xx, timeouts, access denied on our calls, S3
// failing a pre-signed URL) leave the verdict undecided, for onError. So do bytes that do not
// hash to the digest they were served under: ECR computes and checks every manifest's and
// blob's digest when it is pushed (PutImage, CompleteLayerUpload), so no pusher can store
// such content; serving it is ECR's or S3's fault (or the network's), and it must not be
// remembered as a verdict.
import {
  BatchGetImageCommand,
  DescribeImageSigningStatusCommand,
  GetDownloadUrlForLayerCommand,
  ImageFailureCode,
  ListImageReferrersCommand,
  type ImageFailure,
  type ImageReferrer,
} from '@aws-sdk/client-ecr';
import type { EcrImageLocation } from '../ports.ts';
import type { AwsClients } from '../aws-clients.ts';
import { outcomeOf } from '../aws-clients.ts';
import { FactError, fromAwsError } from '../errors.ts';
import { MEDIA_TYPES, sha256Digest } from '../manifest.ts';
import { isDigest } from '../oci/digest.ts';
import { mapBounded } from '../oci/pool.ts';
import { signaturesFirst } from '../oci/referrers.ts';
import { trackCall } from '../../support/pending-calls.ts';
import { ErrorCodes } from '../../support/errors.ts';
import { EnvelopeBudget, MAX_ENVELOPE_BYTES, MAX_REFERRERS, MAX_SIGNATURE_MANIFEST_BYTES, REFERRER_FETCH_CONCURRENCY } from '../signature-budget.ts';

export const NOTARY_SIGNATURE = 'application/vnd.cncf.notary.signature';
/** ListImageReferrers pages read: 50 referrers each (the most AWS allows), so two pages tell
 *  whether there are more than MAX_REFERRERS. */
const MAX_LIST_PAGES = 2;
/** How messages name the GET of the pre-signed URL GetDownloadUrlForLayer returns. */
const LAYER_DOWNLOAD = 'layer download';

export interface SignatureArtifact {
  /** Digest of the signature manifest (the referrer). */
  readonly manifestDigest: string;
  readonly envelope: Uint8Array;
  readonly envelopeMediaType: string;
}

export interface UnreadableSignature {
  readonly manifestDigest: string;
  /** definitive: the referrer itself is at fault; otherwise AWS or the registry is. */
  readonly error: FactError;
}

export interface SignatureListing {
  readonly artifacts: SignatureArtifact[];
  readonly unreadable: UnreadableSignature[];
  /** More than MAX_REFERRERS signature referrers were listed: the rest were not examined. */
  readonly truncated: boolean;
  /** Signature referrers not fetched because the image check's envelope budget was spent. */
  readonly overBudget: number;
}

interface SignatureManifest {
  layers?: Array<{ digest?: unknown; size?: unknown; mediaType?: unknown }>;
  subject?: { digest?: unknown };
  artifactType?: unknown;
  config?: { mediaType?: unknown };
}

/** The referrer is at fault (its bytes, its size, its shape): a definitive rejection of it. */
export function badArtifact(operation: string, message: string): FactError {
  return new FactError(ErrorCodes.INVALID_MANIFEST, 'ecr', operation, message);
}

/** S3 or the network failed the download of a pre-signed URL: AWS's fault, for onError. */
function downloadFailed(why: string): FactError {
  return new FactError(ErrorCodes.AWS_ERROR, 'ecr', LAYER_DOWNLOAD, `ecr ${LAYER_DOWNLOAD} (the URL GetDownloadUrlForLayer returned) ${why}`);
}

/** ECR served content that does not hash to the digest it was asked for: not something a
 *  pusher can cause (ECR checks digests at push), so a fault of ECR, S3 or the network. */
export function servedWrongBytes(operation: string, message: string): FactError {
  return new FactError(
    ErrorCodes.AWS_ERROR,
    'ecr',
    operation,
    `ecr ${operation} ${message} (ECR checks digests at push: a fault of the registry or the transfer)`,
  );
}

// BatchGetImage failure codes (ImageFailure.failureCode in @aws-sdk/client-ecr) that are a
// service's fault rather than a fact about the referrer: KMS, and a pull-through cache's
// upstream registry. The others (ImageNotFound: deleted since it was listed, InvalidImageDigest,
// ...) are about the referrer the requester pushed.
const FAULT_FAILURES: ReadonlySet<string> = new Set([
  ImageFailureCode.KmsError,
  ImageFailureCode.UpstreamAccessDenied,
  ImageFailureCode.UpstreamTooManyRequests,
  ImageFailureCode.UpstreamUnavailable,
]);

export function batchGetFailure(failure: ImageFailure | undefined, what: string): FactError {
  const code = failure?.failureCode ?? 'no manifest';
  const message = `${what} could not be read (BatchGetImage: ${code}${failure?.failureReason ? `: ${failure.failureReason.slice(0, 200)}` : ''})`;
  if (FAULT_FAILURES.has(code))
    return new FactError(code === ImageFailureCode.UpstreamTooManyRequests ? ErrorCodes.THROTTLED : ErrorCodes.AWS_ERROR, 'ecr', 'BatchGetImage', message);
  return badArtifact('BatchGetImage', message);
}

/** Reads at most `size` bytes (what the digest-checked manifest declares, itself at most
 *  MAX_ENVELOPE_BYTES): a Content-Length or a body over it stops the read at once. A blob
 *  larger than its manifest says is the manifest's lie, the referrer's fault. */
async function readBounded(response: Response, size: number, what: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > size) {
    await response.body?.cancel().catch(() => undefined);
    throw badArtifact(LAYER_DOWNLOAD, `${what} is ${declared} bytes, more than the ${size} its signature manifest declares`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  for (;;) {
    const step = await reader?.read();
    if (!step || step.done) break;
    total += step.value.byteLength;
    if (total > size) {
      await reader!.cancel().catch(() => undefined);
      throw badArtifact(LAYER_DOWNLOAD, `${what} is more than the ${size} bytes its signature manifest declares`);
    }
    chunks.push(step.value);
  }
  return Buffer.concat(chunks);
}

/** S3 answers 503 SlowDown (or drops a connection) under load, and the SDK's retries do not
 *  cover this plain fetch of a pre-signed URL: one more try, after a short jittered pause. */
async function fetchWithOneRetry(url: string, signal: AbortSignal): Promise<Response> {
  const retryable = (r: Response) => r.status === 429 || r.status >= 500;
  let first: Response;
  try {
    first = await fetch(url, { signal, redirect: 'follow' });
    if (!retryable(first)) return first;
    await first.body?.cancel().catch(() => undefined);
  } catch (error) {
    if (signal.aborted) throw error;
  }
  await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 75));
  return fetch(url, { signal, redirect: 'follow' });
}

type Examined = { manifestDigest: string; artifact: SignatureArtifact } | { manifestDigest: string; error: FactError } | 'over-budget';

export class EcrSignatureSource {
  readonly #clients: AwsClients;

  constructor(clients: AwsClients) {
    this.#clients = clients;
  }

  /** `budget` is the image check's (shared by an index and its children); a listing on its own gets a fresh one. */
  async list(loc: EcrImageLocation, subjectDigest: string, signal: AbortSignal, budget: EnvelopeBudget = new EnvelopeBudget()): Promise<SignatureListing> {
    const { referrers, more } = await this.#referrers(loc, subjectDigest, signal);
    const candidates = signaturesFirst(referrers, NOTARY_SIGNATURE);
    const examined = candidates.slice(0, MAX_REFERRERS);
    const settled = await mapBounded(examined, REFERRER_FETCH_CONCURRENCY, signal, async (r, s): Promise<Examined> => {
      const manifestDigest = r.digest ?? '';
      try {
        const artifact = await this.#fetch(loc, subjectDigest, r, s, budget);
        return artifact === 'over-budget' ? artifact : { manifestDigest, artifact };
      } catch (error) {
        return { manifestDigest, error: fromAwsError(error, 'ecr', 'BatchGetImage') };
      }
    });
    const artifacts: SignatureArtifact[] = [];
    const unreadable: UnreadableSignature[] = [];
    let overBudget = 0;
    for (const s of settled) {
      if (s === 'over-budget') overBudget += 1;
      else if ('artifact' in s) artifacts.push(s.artifact);
      else unreadable.push(s);
    }
    return { artifacts, unreadable, truncated: more || candidates.length > MAX_REFERRERS, overBudget };
  }

  /** Signature referrers, at most MAX_LIST_PAGES pages of 50. ListImageReferrers returns 20
   *  per page unless maxResults says otherwise (ListImageReferrersRequest in the SDK's model),
   *  and has no SDK paginator. ECR applies the artifactTypes filter; it is applied here too. */
  async #referrers(loc: EcrImageLocation, digest: string, signal: AbortSignal): Promise<{ referrers: ImageReferrer[]; more: boolean }> {
    const out: ImageReferrer[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES && out.length <= MAX_REFERRERS; page++) {
      const listed = await referrersPage(this.#clients, loc, digest, NOTARY_SIGNATURE, signal, nextToken);
      out.push(...listed.referrers);
      nextToken = listed.nextToken;
      if (!nextToken) break;
    }
    return { referrers: out, more: nextToken !== undefined };
  }

  async #fetch(
    loc: EcrImageLocation,
    subjectDigest: string,
    referrer: ImageReferrer,
    signal: AbortSignal,
    budget: EnvelopeBudget,
  ): Promise<SignatureArtifact | 'over-budget'> {
    const manifestDigest = referrer.digest ?? '';
    const name = `signature manifest ${manifestDigest.slice(0, 19)}`;
    const bad = (why: string) => badArtifact('BatchGetImage', `${name} ${why}`);
    // ECR's own size of the referrer manifest: refuse a huge one before BatchGetImage returns it.
    if (typeof referrer.size === 'number' && referrer.size > MAX_SIGNATURE_MANIFEST_BYTES) {
      throw bad(`is ${referrer.size} bytes, over the ${MAX_SIGNATURE_MANIFEST_BYTES}-byte limit of a signature manifest`);
    }
    // Charged before the read: junk referrers cost a read each, however small their envelopes.
    if (!budget.takeRead()) return 'over-budget';
    const ecr = this.#clients.ecr(loc.accountId, loc.region);
    const got = await ecr.send(
      new BatchGetImageCommand({
        registryId: loc.accountId,
        repositoryName: loc.repository,
        imageIds: [{ imageDigest: manifestDigest }],
        acceptedMediaTypes: [MEDIA_TYPES.ociManifest],
      }),
      { abortSignal: signal },
    );
    const text = got.images?.[0]?.imageManifest;
    if (text === undefined) throw batchGetFailure(got.failures?.[0], name);
    if (Buffer.byteLength(text, 'utf8') > MAX_SIGNATURE_MANIFEST_BYTES)
      throw bad(`is over the ${MAX_SIGNATURE_MANIFEST_BYTES}-byte limit of a signature manifest`);
    if (sha256Digest(Buffer.from(text, 'utf8')) !== manifestDigest) {
      // BatchGetImage returns the manifest as a string: bytes that were not UTF-8 come back as
      // U+FFFD and cannot hash to their digest. Such bytes are the pusher's (if ECR stored them),
      // so that is the referrer's fault; any other mismatch is ECR's.
      if (text.includes('\uFFFD')) throw bad('is not valid UTF-8, so its digest cannot be checked');
      throw servedWrongBytes('BatchGetImage', `returned ${name} with bytes that do not hash to its digest`);
    }
    let manifest: SignatureManifest;
    try {
      manifest = JSON.parse(text) as SignatureManifest;
    } catch {
      throw bad('is not JSON');
    }
    const type = manifest.artifactType ?? manifest.config?.mediaType;
    if (type !== NOTARY_SIGNATURE) throw bad(`is not a Notation signature (artifact type ${String(type).slice(0, 100)})`);
    if (manifest.subject?.digest !== subjectDigest) throw bad('has a subject other than the image');
    const layer = Array.isArray(manifest.layers) && manifest.layers.length === 1 ? manifest.layers[0] : undefined;
    if (!layer || typeof layer.digest !== 'string' || !isDigest(layer.digest) || !Number.isSafeInteger(layer.size) || typeof layer.mediaType !== 'string') {
      throw bad('must have exactly one layer with a sha256 digest, a size and a mediaType');
    }
    const size = layer.size as number;
    if (size < 0 || size > MAX_ENVELOPE_BYTES) throw bad(`declares a ${size}-byte envelope, over the ${MAX_ENVELOPE_BYTES}-byte limit`);
    if (!budget.take(size)) return 'over-budget';
    const envelope = await this.layer(loc, layer.digest, size, name, signal);
    return { manifestDigest, envelope, envelopeMediaType: layer.mediaType };
  }

  /** One blob of a digest-checked manifest, at most `size` bytes (its declared size, already
   *  bounded and taken from the budget): GetDownloadUrlForLayer, then the bounded GET. Also
   *  reads cosign's signature blobs (ecr/cosign-signatures.ts). */
  async layer(loc: EcrImageLocation, layerDigest: string, size: number, name: string, signal: AbortSignal): Promise<Uint8Array> {
    const ecr = this.#clients.ecr(loc.accountId, loc.region);
    let url: string | undefined;
    try {
      url = (
        await ecr.send(new GetDownloadUrlForLayerCommand({ registryId: loc.accountId, repositoryName: loc.repository, layerDigest }), {
          abortSignal: signal,
        })
      ).downloadUrl;
    } catch (error) {
      // The manifest names a blob the repository does not hold: the referrer's fault.
      if (outcomeOf(error) === 'LayersNotFoundException')
        throw badArtifact('BatchGetImage', `${name} names an envelope the repository cannot serve (${outcomeOf(error)})`);
      throw fromAwsError(error, 'ecr', 'GetDownloadUrlForLayer');
    }
    if (!url) throw downloadFailed(`was not issued for ${name}`);
    const downloadUrl = url;
    return trackCall(`ecr ${LAYER_DOWNLOAD}`, () => this.#download(downloadUrl, layerDigest, size, signal));
  }

  async #download(url: string, digest: string, size: number, signal: AbortSignal): Promise<Uint8Array> {
    const what = `signature envelope ${digest.slice(0, 19)}`;
    try {
      const response = await fetchWithOneRetry(url, signal);
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw downloadFailed(`answered HTTP ${response.status} for ${what}`);
      }
      const envelope = await readBounded(response, size, what);
      // The digest first: bytes that hash to it are the blob the pusher stored, so a length
      // other than the declared size is the manifest's lie; bytes that do not hash to it are
      // not what anyone stored under that digest (ECR checked it at push): S3 or the network
      // served garbage, whatever their length.
      if (sha256Digest(envelope) !== digest)
        throw downloadFailed(
          `served ${envelope.length} bytes for ${what} that do not hash to its digest (ECR checks digests at push: a fault of S3 or the transfer)`,
        );
      if (envelope.length !== size) throw badArtifact(LAYER_DOWNLOAD, `${what} is ${envelope.length} bytes, not the ${size} its signature manifest declares`);
      return envelope;
    } catch (error) {
      throw fromAwsError(error, 'ecr', LAYER_DOWNLOAD);
    }
  }

  /** ECR managed signing's own view, used only to explain a denial; never to decide. */
  async managedSigningStatus(loc: EcrImageLocation, digest: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      const out = await this.#clients.ecr(loc.accountId, loc.region).send(
        new DescribeImageSigningStatusCommand({
          registryId: loc.accountId,
          repositoryName: loc.repository,
          imageId: { imageDigest: digest },
        }),
        { abortSignal: signal },
      );
      const statuses = out.signingStatuses ?? [];
      const failed = statuses.find((s) => s.status === 'FAILED');
      if (failed) return `ECR managed signing FAILED: ${failed.failureReason ?? failed.failureCode ?? 'no reason given'}`;
      if (statuses.some((s) => s.status === 'IN_PROGRESS')) return 'ECR managed signing is IN_PROGRESS: deploy again in a minute';
      return undefined;
    } catch {
      return undefined; // an explanation we could not fetch is no reason to change the decision
    }
  }
}

/** One page of ListImageReferrers of `subjectDigest`, filtered to `artifactType` (ECR applies
 *  the filter; it is applied here too), 50 per page (ListImageReferrersRequest maxResults, at
 *  most 50 in the SDK's model; the default is 20): the referrers that have a digest and are not
 *  archived, and the next page's token. */
export async function referrersPage(
  clients: AwsClients,
  loc: EcrImageLocation,
  subjectDigest: string,
  artifactType: string,
  signal: AbortSignal,
  nextToken?: string,
): Promise<{ referrers: ImageReferrer[]; nextToken: string | undefined }> {
  let response;
  try {
    response = await clients.ecr(loc.accountId, loc.region).send(
      new ListImageReferrersCommand({
        registryId: loc.accountId,
        repositoryName: loc.repository,
        subjectId: { imageDigest: subjectDigest },
        filter: { artifactTypes: [artifactType] },
        maxResults: 50,
        ...(nextToken !== undefined && { nextToken }),
      }),
      { abortSignal: signal },
    );
  } catch (error) {
    throw fromAwsError(error, 'ecr', 'ListImageReferrers');
  }
  const referrers = (response.referrers ?? []).filter(
    (r) => r.digest !== undefined && r.artifactStatus !== 'ARCHIVED' && (r.artifactType === undefined || r.artifactType === artifactType),
  );
  return { referrers, nextToken: response.nextToken };
}
