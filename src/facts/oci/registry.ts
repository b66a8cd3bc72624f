// A small OCI distribution API client: resolves a tag to a digest it has checked against the
// manifest bytes, and reads the Notation signatures of a digest (referrers API, else the
// sha256-<hex> referrers tag) with every response bounded in size and every request under
// the admission deadline. Used for ECR's registry endpoint (Basic, GetAuthorizationToken)
// and for any other registry (anonymous or Bearer tokens). Every failure is a FactError
// with service 'oci'.
//
// Content that does not hash to the digest it was served under is the registry's fault (or
// the transfer's), never the pusher's: a registry computes and checks the digest of every
// manifest and blob at push (distribution-spec "Pushing blobs" / "Pushing Manifests"), so no
// push can store such content. It is an error for onError, and never a remembered verdict.
// What a pusher does control stays a content problem (OciContentError): a size over a bound,
// a descriptor whose size its (digest-checked) bytes do not have, a malformed manifest.
import { describeManifest } from '../manifest.ts';
import { FactError } from '../errors.ts';
import { RegistryAuthorizer } from './auth.ts';
import { isDigest, isRepositoryName, isTag, referrersTag } from './digest.ts';
import { sha256Digest } from '../manifest.ts';
import { OciContentError, ociError, servedWrongBytes, statusError } from './errors.ts';
import { checkScheme, exchange, isConnectionFailure, type HttpResponse } from './http.ts';
import { mapBounded } from './pool.ts';
import { isSignatureCandidate, nextPageUrl, parseReferrersIndex, parseSignatureManifest, signaturesFirst, type SignatureManifest } from './referrers.ts';
import { EnvelopeBudget } from '../signature-budget.ts';
import { ErrorCodes } from '../../support/errors.ts';
import {
  DEFAULT_LIMITS,
  IMAGE_MEDIA_TYPES,
  NOTARY_SIGNATURE_ARTIFACT_TYPE,
  OCI_INDEX,
  OCI_MANIFEST,
  type CredentialSource,
  type FailedSignature,
  type OciDescriptor,
  type OciLimits,
  type OciManifest,
  type OciSignature,
  type OciSignatureList,
  type SkippedSignature,
} from './types.ts';

export * from './types.ts';
export { OciContentError } from './errors.ts';
export { referrersTag } from './digest.ts';

export interface OciRegistryOptions {
  /** https://host[:port] (a path is ignored: the API lives at /v2/). */
  readonly baseUrl: string;
  readonly credentials?: CredentialSource;
  /** Allow http:// for the registry, its redirects and its token realm (tests, 127.0.0.1). */
  readonly plainHttp?: boolean;
  /** Each request's own timeout, on top of the caller's signal (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /** Extra attempts after a 429, 5xx or connection failure (default 1). */
  readonly retries?: number;
  readonly limits?: Partial<OciLimits>;
  readonly now?: () => number;
}

interface SendRequest {
  readonly method: 'GET' | 'HEAD';
  readonly repository: string;
  readonly url: URL;
  readonly operation: string;
  readonly what: string;
  readonly accept?: string;
  readonly maxBytes: number;
  readonly tooLarge: (message: string, bytes: number) => FactError;
  readonly signal: AbortSignal;
}

const ok = (r: HttpResponse): boolean => r.status >= 200 && r.status < 300;
const contentType = (r: HttpResponse): string | undefined => r.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() || undefined;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export class OciRegistryClient {
  readonly baseUrl: string;
  readonly limits: OciLimits;
  readonly #plainHttp: boolean;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #auth: RegistryAuthorizer;

  constructor(options: OciRegistryOptions) {
    const base = new URL(options.baseUrl);
    this.#plainHttp = options.plainHttp ?? false;
    if (base.protocol !== 'https:' && !(base.protocol === 'http:' && this.#plainHttp)) {
      throw new TypeError(`registry URL ${base.origin} must be https (plain HTTP only when plainHttp is set)`);
    }
    this.baseUrl = base.origin;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#timeoutMs = options.requestTimeoutMs ?? 5000;
    this.#retries = options.retries ?? 1;
    this.#auth = new RegistryAuthorizer({
      ...(options.credentials && { credentials: options.credentials }),
      plainHttp: this.#plainHttp,
      timeoutMs: this.#timeoutMs,
      now: options.now ?? Date.now,
    });
  }

  /** The manifest a tag or digest names, its digest checked against its bytes. With a digest
   *  the tag is ignored (the digest is what runs). With a tag: HEAD for the digest, then GET
   *  by that digest, so the bytes are checked against it; without a digest header, GET by
   *  tag and the digest is the hash of the bytes. */
  async resolve(repository: string, ref: { tag?: string; digest?: string }, signal: AbortSignal): Promise<OciManifest> {
    this.#checkRepository(repository, 'GET manifests');
    if (ref.digest !== undefined) return this.#image(repository, this.#checkDigest(ref.digest, 'GET manifests'), signal);
    if (ref.tag === undefined) throw ociError(ErrorCodes.IMAGE_NOT_FOUND, 'GET manifests', 'the reference names neither tag nor digest');
    if (!isTag(ref.tag)) throw ociError(ErrorCodes.IMAGE_NOT_FOUND, 'GET manifests', `'${ref.tag.slice(0, 140)}' is not a valid tag`);
    const url = this.#url(repository, `manifests/${ref.tag}`);
    const head = await this.#send({
      ...this.#manifestRequest(repository, url, `tag ${ref.tag}`, IMAGE_MEDIA_TYPES.join(', '), signal),
      method: 'HEAD',
      operation: 'HEAD manifests',
    });
    if ([401, 403, 404, 429].includes(head.status)) throw statusError(head.status, head.body, 'HEAD manifests', `${repository}:${ref.tag}`);
    const hint = ok(head) ? head.headers.get('docker-content-digest') : null;
    if (hint !== null && isDigest(hint)) return this.#image(repository, hint, signal);
    // No usable HEAD answer: the bytes served for the tag define its digest.
    const response = await this.#send(this.#manifestRequest(repository, url, `tag ${ref.tag}`, IMAGE_MEDIA_TYPES.join(', '), signal));
    if (!ok(response)) throw statusError(response.status, response.body, 'GET manifests', `${repository}:${ref.tag}`);
    const digest = sha256Digest(response.body);
    const claimed = response.headers.get('docker-content-digest');
    if (claimed !== null && isDigest(claimed) && claimed !== digest) {
      throw servedWrongBytes('GET manifests', `registry says ${repository}:${ref.tag} is ${claimed}, but its bytes hash to ${digest}`);
    }
    return this.#describe(response, digest);
  }

  /** Every referrer of `digest` the registry lists (filtered for Notation signatures where the
   *  registry honours the filter): the referrers API, or the referrers tag when it answers 404. */
  async referrers(
    repository: string,
    digest: string,
    signal: AbortSignal,
    // cosign's bundles (issue 19) are asked for by their own type.
    artifactType: string = NOTARY_SIGNATURE_ARTIFACT_TYPE,
  ): Promise<{ descriptors: OciDescriptor[]; source: OciSignatureList['source'] }> {
    this.#checkRepository(repository, 'GET referrers');
    this.#checkDigest(digest, 'GET referrers');
    let url: URL | undefined = this.#url(repository, `referrers/${digest}`);
    // distribution-spec 1.1 "Listing Referrers": a registry that applied the artifactType
    // filter says so in OCI-Filters-Applied; one that did not returns every referrer, and
    // the client must filter. signatures() orders and filters every answer (signaturesFirst),
    // which is exactly that fallback, and harmless when the registry did filter.
    url.searchParams.set('artifactType', artifactType);
    const descriptors: OciDescriptor[] = [];
    for (let page = 0; url && page < this.limits.maxReferrerPages; page += 1) {
      const response = await this.#send(this.#indexRequest(repository, url, 'GET referrers', `referrers of ${digest}`, signal));
      if (page === 0 && response.status === 404) return { descriptors: await this.#referrersTag(repository, digest, signal), source: 'referrers-tag' };
      if (!ok(response)) throw statusError(response.status, response.body, 'GET referrers', `referrers of ${repository}@${digest}`);
      descriptors.push(...parseReferrersIndex(response.body, 'GET referrers', `referrers of ${digest}`));
      if (descriptors.filter((d) => isSignatureCandidate(d, artifactType)).length > this.limits.maxReferrers) break;
      url = nextPageUrl(response.headers.get('link'), url);
    }
    return { descriptors, source: 'referrers-api' };
  }

  /** The Notation signatures of `digest`, at most `maxReferrers` examined (signature-typed
   *  first, newest first), `concurrency` at a time, envelopes taken from `budget` before their
   *  download. A referrer that is not shaped like a signature, or whose manifest or envelope is
   *  too big or not the size its descriptor states, is set aside in `skipped` (its own fault);
   *  one the registry fails to serve (5xx, throttling, timeout, bytes that do not hash to
   *  their digest) in `failed`; a registry that cannot
   *  list referrers at all fails the whole call. */
  async signatures(repository: string, digest: string, signal: AbortSignal, budget: EnvelopeBudget = new EnvelopeBudget()): Promise<OciSignatureList> {
    const { descriptors, source } = await this.referrers(repository, digest, signal);
    const unique = new Map<string, OciDescriptor>();
    for (const d of descriptors) if (isSignatureCandidate(d) && !unique.has(d.digest)) unique.set(d.digest, d);
    const candidates = signaturesFirst([...unique.values()], NOTARY_SIGNATURE_ARTIFACT_TYPE);
    const examined = candidates.slice(0, this.limits.maxReferrers);
    const results = await mapBounded(examined, this.limits.concurrency, signal, (d, s) => this.#examine(repository, d, digest, s, budget));
    const signatures: OciSignature[] = [];
    const skipped: SkippedSignature[] = [];
    const failed: FailedSignature[] = [];
    let overBudget = 0;
    for (const r of results) {
      if (r === undefined) continue;
      if (r === 'over-budget') overBudget += 1;
      else if ('problem' in r) skipped.push(r);
      else if ('error' in r) failed.push(r);
      else signatures.push(r);
    }
    return { signatures, skipped, failed, overBudget, listed: candidates.length, truncated: candidates.length > examined.length, source };
  }

  /** One signature: its manifest (exactly one layer, subject = `subjectDigest`) and envelope.
   *  Undefined when the manifest turns out not to be a Notation signature. */
  async signature(repository: string, descriptor: OciDescriptor, subjectDigest: string, signal: AbortSignal): Promise<OciSignature | undefined> {
    const manifest = await this.#signatureManifest(repository, descriptor, subjectDigest, signal);
    return manifest && this.#withEnvelope(repository, descriptor.digest, manifest, signal);
  }

  async #signatureManifest(repository: string, descriptor: OciDescriptor, subjectDigest: string, signal: AbortSignal): Promise<SignatureManifest | undefined> {
    this.#checkRepository(repository, 'GET manifests');
    const { digest } = descriptor;
    const max = this.limits.maxSignatureManifestBytes;
    if (descriptor.size > max) {
      throw new OciContentError(
        'too-large',
        'GET manifests',
        `signature manifest ${digest} is ${descriptor.size} bytes, over the ${max}-byte limit of a signature manifest`,
      );
    }
    const bytes = await this.#manifestBytes(repository, this.#checkDigest(digest, 'GET manifests'), OCI_MANIFEST, 'signature manifest', signal, max);
    if (bytes.body.byteLength !== descriptor.size) {
      throw new OciContentError(
        'size-mismatch',
        'GET manifests',
        `signature manifest ${digest} is ${bytes.body.byteLength} bytes, not the ${descriptor.size} its descriptor states`,
      );
    }
    return parseSignatureManifest(bytes.body, digest, subjectDigest, 'GET manifests');
  }

  async #withEnvelope(repository: string, manifestDigest: string, manifest: SignatureManifest, signal: AbortSignal): Promise<OciSignature> {
    const envelope = await this.blob(repository, manifest.layer, signal);
    return { manifestDigest, envelope, envelopeMediaType: manifest.layer.mediaType, envelopeDigest: manifest.layer.digest, annotations: manifest.annotations };
  }

  /** A blob (following redirects to object storage), refused over `maxBlobBytes` by its
   *  descriptor, its Content-Length or its bytes, and checked against digest, then size: bytes
   *  that hash to the digest are the stored blob, so a different length is the descriptor's lie;
   *  bytes that do not are the registry's or the transfer's fault, whatever their length. */
  async blob(repository: string, descriptor: OciDescriptor, signal: AbortSignal): Promise<Uint8Array> {
    this.#checkRepository(repository, 'GET blobs');
    const { digest, size } = descriptor;
    const max = this.limits.maxBlobBytes;
    const what = `blob ${digest}`;
    if (!isDigest(digest)) throw new OciContentError('malformed', 'GET blobs', `'${digest.slice(0, 80)}' is not a sha256 digest`);
    if (size > max) throw new OciContentError('too-large', 'GET blobs', `${what} is ${size} bytes, over the ${max}-byte limit`);
    const response = await this.#send({
      method: 'GET',
      repository,
      url: this.#url(repository, `blobs/${digest}`),
      operation: 'GET blobs',
      what,
      signal,
      // Reading past the descriptor's size is already a mismatch: stop there.
      maxBytes: size,
      tooLarge: (m, bytes) =>
        new OciContentError(
          bytes > max ? 'too-large' : 'size-mismatch',
          'GET blobs',
          bytes > max ? m : `${what} is larger than the ${size} bytes its descriptor states`,
        ),
    });
    if (!ok(response)) throw statusError(response.status, response.body, 'GET blobs', `${what} of ${repository}`);
    const actual = sha256Digest(response.body);
    if (actual !== digest) throw servedWrongBytes('GET blobs', `registry served ${response.body.byteLength} bytes for ${what} that hash to ${actual}`);
    if (response.body.byteLength !== size)
      throw new OciContentError('size-mismatch', 'GET blobs', `${what} is ${response.body.byteLength} bytes, not the ${size} its descriptor states`);
    return response.body;
  }

  async #examine(
    repository: string,
    d: OciDescriptor,
    subject: string,
    signal: AbortSignal,
    budget: EnvelopeBudget,
  ): Promise<OciSignature | SkippedSignature | FailedSignature | 'over-budget' | undefined> {
    // Charged before the manifest GET: junk referrers cost a read each, however small.
    if (!budget.takeRead()) return 'over-budget';
    try {
      const manifest = await this.#signatureManifest(repository, d, subject, signal);
      if (!manifest) return undefined;
      // The envelope's declared size (bounded by maxBlobBytes in blob()) is taken before its download.
      if (manifest.layer.size <= this.limits.maxBlobBytes && !budget.take(manifest.layer.size)) return 'over-budget';
      return await this.#withEnvelope(repository, d.digest, manifest, signal);
    } catch (error) {
      if (error instanceof OciContentError) return { manifestDigest: d.digest, problem: error.problem, reason: error.message };
      if (error instanceof FactError && error.code === ErrorCodes.IMAGE_NOT_FOUND)
        return { manifestDigest: d.digest, problem: 'missing', reason: error.message };
      if (error instanceof FactError) return { manifestDigest: d.digest, error };
      throw error;
    }
  }

  async #referrersTag(repository: string, digest: string, signal: AbortSignal): Promise<OciDescriptor[]> {
    const tag = referrersTag(digest);
    const response = await this.#send(
      this.#indexRequest(repository, this.#url(repository, `manifests/${tag}`), 'GET manifests', `referrers tag ${tag}`, signal),
    );
    if (response.status === 404) {
      const error = statusError(404, response.body, 'GET manifests', `${repository}:${tag}`);
      if (error.code === ErrorCodes.REPOSITORY_NOT_FOUND) throw error;
      return []; // no referrers tag: nothing refers to this digest
    }
    if (!ok(response)) throw statusError(response.status, response.body, 'GET manifests', `${repository}:${tag}`);
    return parseReferrersIndex(response.body, 'GET manifests', `referrers tag ${tag}`);
  }

  async #image(repository: string, digest: string, signal: AbortSignal): Promise<OciManifest> {
    const response = await this.#manifestBytes(repository, digest, IMAGE_MEDIA_TYPES.join(', '), 'manifest', signal);
    return this.#describe(response, digest);
  }

  /** GET manifests/<digest>: the bytes must hash to the digest asked for, whatever headers say. */
  async #manifestBytes(
    repository: string,
    digest: string,
    accept: string,
    kind: string,
    signal: AbortSignal,
    maxBytes = this.limits.maxManifestBytes,
  ): Promise<HttpResponse> {
    const response = await this.#send({
      ...this.#manifestRequest(repository, this.#url(repository, `manifests/${digest}`), `${kind} ${digest}`, accept, signal),
      maxBytes,
    });
    if (!ok(response)) throw statusError(response.status, response.body, 'GET manifests', `${kind} ${repository}@${digest}`);
    const actual = sha256Digest(response.body);
    if (actual !== digest) throw servedWrongBytes('GET manifests', `${kind} bytes served for ${digest} hash to ${actual}`);
    return response;
  }

  #describe(response: HttpResponse, digest: string): OciManifest {
    const declared = contentType(response);
    const where = { service: 'oci', operation: 'GET manifests' };
    const described = describeManifest(
      Buffer.from(response.body).toString('utf8'),
      digest,
      declared !== undefined && IMAGE_MEDIA_TYPES.includes(declared) ? declared : undefined,
      where,
    );
    if (!IMAGE_MEDIA_TYPES.includes(described.mediaType)) {
      throw new OciContentError('malformed', 'GET manifests', `manifest ${digest} is ${described.mediaType.slice(0, 100)}, not an image manifest or index`);
    }
    return { ...described, bytes: response.body };
  }

  #manifestRequest(repository: string, url: URL, what: string, accept: string, signal: AbortSignal): SendRequest {
    return {
      method: 'GET',
      repository,
      url,
      operation: 'GET manifests',
      what,
      accept,
      signal,
      maxBytes: this.limits.maxManifestBytes,
      tooLarge: (m) => new OciContentError('too-large', 'GET manifests', m),
    };
  }

  #indexRequest(repository: string, url: URL, operation: string, what: string, signal: AbortSignal): SendRequest {
    return { ...this.#manifestRequest(repository, url, what, OCI_INDEX, signal), operation };
  }

  #url(repository: string, rest: string): URL {
    return new URL(`/v2/${repository}/${rest}`, this.baseUrl);
  }

  #checkRepository(repository: string, operation: string): void {
    if (!isRepositoryName(repository))
      throw ociError(ErrorCodes.REPOSITORY_NOT_FOUND, operation, `'${repository.slice(0, 260)}' is not a valid repository name`);
  }

  #checkDigest(digest: string, operation: string): string {
    if (!isDigest(digest)) throw ociError(ErrorCodes.IMAGE_NOT_FOUND, operation, `'${digest.slice(0, 80)}' is not a sha256 digest`);
    return digest;
  }

  /** One request with authentication (answering up to two 401 challenges) and retries. */
  async #send(request: SendRequest): Promise<HttpResponse> {
    const scope = `repository:${request.repository}:pull`;
    let authorization = await this.#auth.authorization(scope, request.signal);
    let challenges = 0;
    for (let attempt = 0; ;) {
      let response: HttpResponse;
      try {
        checkScheme(request.url, this.#plainHttp, request.operation);
        response = await exchange({
          method: request.method,
          url: request.url,
          operation: request.operation,
          what: request.what,
          signal: request.signal,
          headers: { ...(request.accept && { accept: request.accept }), ...(authorization && { authorization }) },
          timeoutMs: this.#timeoutMs,
          maxBytes: request.maxBytes,
          tooLarge: request.tooLarge,
          plainHttp: this.#plainHttp,
          maxRedirects: this.limits.maxRedirects,
        });
      } catch (error) {
        // Connection failures are worth one more try; timeouts and content errors are not.
        if (isConnectionFailure(error) && attempt < this.#retries && !request.signal.aborted) {
          attempt += 1;
          await sleep(50 * attempt, request.signal);
          continue;
        }
        throw error;
      }
      if (response.status === 401 && challenges < 2) {
        challenges += 1;
        authorization = await this.#auth.answer(response.headers.get('www-authenticate'), scope, authorization, request.signal, request.operation);
        continue;
      }
      if ((response.status === 429 || response.status >= 500) && attempt < this.#retries && !request.signal.aborted) {
        attempt += 1;
        await sleep(50 * attempt, request.signal);
        continue;
      }
      return response;
    }
  }
}
