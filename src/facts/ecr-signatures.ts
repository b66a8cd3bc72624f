// Finds the Notation signatures of a digest through the ECR API: ListImageReferrers, then per
// referrer BatchGetImage (the signature manifest) and GetDownloadUrlForLayer + GET (the
// envelope), with the manifest's shape, digest and size checked before anything is parsed.
import { BatchGetImageCommand, DescribeImageSigningStatusCommand, GetDownloadUrlForLayerCommand, ListImageReferrersCommand, type ImageReferrer } from '@aws-sdk/client-ecr';
import type { EcrImageLocation } from '../checks/types.ts';
import type { AwsClients } from './aws-clients.ts';
import { FactError, fromAwsError } from './errors.ts';
import { MEDIA_TYPES, sha256Digest } from './manifest.ts';
import { trackCall } from './pending-calls.ts';

export const NOTARY_SIGNATURE = 'application/vnd.cncf.notary.signature';
export const MAX_REFERRERS = 50;
export const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;
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
  readonly error: FactError;
}

export interface SignatureListing {
  readonly artifacts: SignatureArtifact[];
  readonly unreadable: UnreadableSignature[];
  /** Referrers beyond MAX_REFERRERS were not examined. */
  readonly truncated: boolean;
}

interface SignatureManifest {
  layers?: Array<{ digest?: unknown; size?: unknown; mediaType?: unknown }>;
  subject?: { digest?: unknown };
  artifactType?: unknown;
  config?: { mediaType?: unknown };
}

/** A download that does not deliver what the (digest-checked) signature manifest declares is
 *  a damaged transfer, not a fact about the signature: an AWS error, which follows onError
 *  and is not remembered. */
function downloadFailed(why: string): FactError {
  return new FactError('AWS_ERROR', 'ecr', LAYER_DOWNLOAD, `ecr ${LAYER_DOWNLOAD} (the URL GetDownloadUrlForLayer returned) ${why}`);
}

async function readBounded(response: Response, limit: number, where: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > limit) throw downloadFailed(`announced ${declared} bytes for ${where}, more than the ${limit} its manifest declares`);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body ?? []) {
    total += (chunk as Uint8Array).length;
    if (total > limit) throw downloadFailed(`sent more than the ${limit} bytes the manifest declares for ${where}`);
    chunks.push(chunk as Uint8Array);
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

export class EcrSignatureSource {
  readonly #clients: AwsClients;

  constructor(clients: AwsClients) {
    this.#clients = clients;
  }

  async list(loc: EcrImageLocation, subjectDigest: string, signal: AbortSignal): Promise<SignatureListing> {
    const referrers = await this.#referrers(loc, subjectDigest, signal);
    const examined = referrers.slice(0, MAX_REFERRERS);
    const settled = await Promise.all(examined.map(async (r) => {
      const manifestDigest = r.digest ?? '';
      try {
        return { manifestDigest, artifact: await this.#fetch(loc, subjectDigest, manifestDigest, signal) };
      } catch (error) {
        return { manifestDigest, error: fromAwsError(error, 'ecr', 'BatchGetImage') };
      }
    }));
    return {
      artifacts: settled.flatMap((s) => ('artifact' in s && s.artifact ? [s.artifact] : [])),
      unreadable: settled.flatMap((s) => ('error' in s && s.error ? [{ manifestDigest: s.manifestDigest, error: s.error }] : [])),
      truncated: referrers.length > MAX_REFERRERS,
    };
  }

  async #referrers(loc: EcrImageLocation, digest: string, signal: AbortSignal): Promise<ImageReferrer[]> {
    const out: ImageReferrer[] = [];
    let nextToken: string | undefined;
    // At most 50 per page and no SDK paginator; one page past the cap tells us we truncated.
    for (let page = 0; page < 3 && out.length <= MAX_REFERRERS; page++) {
      let response;
      try {
        response = await this.#clients.ecr(loc.accountId, loc.region).send(new ListImageReferrersCommand({
          registryId: loc.accountId, repositoryName: loc.repository, subjectId: { imageDigest: digest },
          filter: { artifactTypes: [NOTARY_SIGNATURE] }, ...(nextToken !== undefined && { nextToken }),
        }), { abortSignal: signal });
      } catch (error) {
        throw fromAwsError(error, 'ecr', 'ListImageReferrers');
      }
      out.push(...(response.referrers ?? []).filter((r) => r.digest !== undefined && r.artifactStatus !== 'ARCHIVED'));
      nextToken = response.nextToken;
      if (!nextToken) break;
    }
    return out;
  }

  async #fetch(loc: EcrImageLocation, subjectDigest: string, manifestDigest: string, signal: AbortSignal): Promise<SignatureArtifact> {
    const ecr = this.#clients.ecr(loc.accountId, loc.region);
    const got = await ecr.send(new BatchGetImageCommand({
      registryId: loc.accountId, repositoryName: loc.repository, imageIds: [{ imageDigest: manifestDigest }],
      acceptedMediaTypes: [MEDIA_TYPES.ociManifest],
    }), { abortSignal: signal });
    const text = got.images?.[0]?.imageManifest;
    const bad = (why: string) => new FactError('INVALID_MANIFEST', 'ecr', 'BatchGetImage', `signature manifest ${manifestDigest.slice(0, 19)} ${why}`);
    if (text === undefined) throw bad(`could not be read (${got.failures?.[0]?.failureCode ?? 'no manifest'})`);
    if (sha256Digest(Buffer.from(text, 'utf8')) !== manifestDigest) throw bad('does not hash to its digest');
    let manifest: SignatureManifest;
    try {
      manifest = JSON.parse(text) as SignatureManifest;
    } catch {
      throw bad('is not JSON');
    }
    const type = manifest.artifactType ?? manifest.config?.mediaType;
    if (type !== NOTARY_SIGNATURE) throw bad(`is not a Notation signature (artifact type ${String(type)})`);
    if (manifest.subject?.digest !== subjectDigest) throw bad('has a subject other than the image');
    const layer = manifest.layers?.length === 1 ? manifest.layers[0] : undefined;
    if (!layer || typeof layer.digest !== 'string' || typeof layer.size !== 'number' || typeof layer.mediaType !== 'string') throw bad('must have exactly one layer with digest, size and mediaType');
    if (layer.size > MAX_ENVELOPE_BYTES) throw bad(`declares a ${layer.size}-byte envelope, over the ${MAX_ENVELOPE_BYTES}-byte limit`);

    let url: string | undefined;
    try {
      url = (await ecr.send(new GetDownloadUrlForLayerCommand({ registryId: loc.accountId, repositoryName: loc.repository, layerDigest: layer.digest }), { abortSignal: signal })).downloadUrl;
    } catch (error) {
      throw fromAwsError(error, 'ecr', 'GetDownloadUrlForLayer');
    }
    if (!url) throw bad('has no download URL for its envelope');
    const [downloadUrl, digest, size] = [url, layer.digest, layer.size];
    const envelope = await trackCall(`ecr ${LAYER_DOWNLOAD}`, () => this.#download(downloadUrl, digest, size, signal));
    return { manifestDigest, envelope, envelopeMediaType: layer.mediaType };
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
      if (envelope.length !== size || sha256Digest(envelope) !== digest) throw downloadFailed(`delivered ${envelope.length} bytes for ${what} that do not match its digest and size`);
      return envelope;
    } catch (error) {
      throw fromAwsError(error, 'ecr', LAYER_DOWNLOAD);
    }
  }

  /** ECR managed signing's own view, used only to explain a denial; never to decide. */
  async managedSigningStatus(loc: EcrImageLocation, digest: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      const out = await this.#clients.ecr(loc.accountId, loc.region).send(new DescribeImageSigningStatusCommand({
        registryId: loc.accountId, repositoryName: loc.repository, imageId: { imageDigest: digest },
      }), { abortSignal: signal });
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
