// Facts read through the OCI distribution API, through the fact cache: digests and signatures
// of images in the policy's registries.oci, and signatures of ECR images when the policy reads
// them from the ECR registry endpoint (checks.signature.source: registry).
import type { FactCache, FactSpec } from '../../support/fact-cache.ts';
import type { AwsConfig, CacheConfig } from '../../policy/schema.ts';
import type { EcrImageLocation, OciImageLocation, ResolvedImage } from '../ports.ts';
import type { AwsClients } from '../aws-clients.ts';
import { ecrRegistryClient } from '../ecr/registry-auth.ts';
import { FactError } from '../errors.ts';
import type { SignatureListing } from '../ecr/signatures.ts';
import { OciRegistryClient, type OciSignatureList } from './registry.ts';
import type { EnvelopeBudget } from '../signature-budget.ts';
import { ErrorCodes } from '../../support/errors.ts';
import type { CosignListing } from '../cosign-manifests.ts';
import { listCosignSignatures } from './cosign-signatures.ts';

export interface OciFactsOptions {
  readonly cache: FactCache;
  readonly ttl: CacheConfig;
  readonly clients: AwsClients;
  readonly aws: AwsConfig;
}

/** Referrers at fault themselves are definitive rejections (INVALID_MANIFEST); those the
 *  registry failed to serve keep the registry's error, which leaves the verdict to onError. */
function toListing(list: OciSignatureList): SignatureListing {
  return {
    artifacts: list.signatures.map((s) => ({ manifestDigest: s.manifestDigest, envelope: s.envelope, envelopeMediaType: s.envelopeMediaType })),
    unreadable: [
      ...list.skipped.map((k) => ({ manifestDigest: k.manifestDigest, error: new FactError(ErrorCodes.INVALID_MANIFEST, 'oci', 'GET referrers', k.reason) })),
      ...list.failed,
    ],
    truncated: list.truncated,
    overBudget: list.overBudget,
  };
}

export class OciFacts {
  readonly #options: OciFactsOptions;
  readonly #registries = new Map<string, OciRegistryClient>();
  readonly #tagSpec: FactSpec<ResolvedImage>;
  readonly #digestSpec: FactSpec<ResolvedImage>;

  constructor(options: OciFactsOptions) {
    this.#options = options;
    const s = options.ttl.ttlSeconds;
    const notFound = (e: unknown) => (e instanceof FactError && e.definitive ? s.notFound * 1000 : undefined);
    // A registry outside ECR says nothing about tag mutability: every tag counts as movable.
    this.#tagSpec = { fact: 'oci-tag', ttlMs: () => s.mutableTag * 1000, negativeTtlMs: notFound };
    this.#digestSpec = { fact: 'oci-manifest', ttlMs: () => s.digest * 1000, negativeTtlMs: notFound };
  }

  #registry(loc: OciImageLocation): OciRegistryClient {
    let client = this.#registries.get(loc.host);
    if (!client) {
      client = new OciRegistryClient({ baseUrl: `${loc.plainHttp ? 'http' : 'https'}://${loc.host}`, plainHttp: loc.plainHttp });
      this.#registries.set(loc.host, client);
    }
    return client;
  }

  #ecrRegistry(loc: EcrImageLocation): OciRegistryClient {
    const key = `ecr/${loc.accountId}/${loc.region}`;
    let client = this.#registries.get(key);
    if (!client) {
      const baseUrl = this.#options.aws.endpoints.ecrRegistry ?? `https://${loc.host}`;
      client = ecrRegistryClient({
        clients: this.#options.clients,
        accountId: loc.accountId,
        region: loc.region,
        baseUrl,
        plainHttp: baseUrl.startsWith('http:'),
      });
      this.#registries.set(key, client);
    }
    return client;
  }

  /** The manifest a reference names; with both tag and digest, the tag must point to the digest. */
  async resolve(loc: OciImageLocation, ref: { tag?: string; digest?: string }, signal: AbortSignal, budgetMs: number): Promise<ResolvedImage> {
    const registry = this.#registry(loc);
    const load =
      (r: { tag?: string; digest?: string }) =>
      async (s: AbortSignal): Promise<ResolvedImage> => {
        const { bytes: _bytes, ...resolved } = await registry.resolve(loc.repository, r, s);
        return resolved;
      };
    const base = `${loc.host}/${loc.repository}`;
    if (ref.tag !== undefined) {
      const byTag = await this.#options.cache.get(this.#tagSpec, `${base}:${ref.tag}`, load({ tag: ref.tag }), signal, budgetMs);
      if (ref.digest !== undefined && ref.digest !== byTag.digest) {
        throw new FactError(ErrorCodes.TAG_DIGEST_MISMATCH, 'oci', 'GET manifests', `tag ${ref.tag} points to ${byTag.digest}, not ${ref.digest}`);
      }
      return byTag;
    }
    return this.#options.cache.get(
      this.#digestSpec,
      `${base}@${ref.digest ?? ''}`,
      load({ ...(ref.digest !== undefined && { digest: ref.digest }) }),
      signal,
      budgetMs,
    );
  }

  /** The digest `tag` names, if the cache still trusts that answer (mutableTag TTL). */
  freshTagDigest(loc: OciImageLocation, tag: string): string | undefined {
    return this.#options.cache.peek(this.#tagSpec, `${loc.host}/${loc.repository}:${tag}`)?.digest;
  }

  async signatures(loc: OciImageLocation, digest: string, signal: AbortSignal, budget?: EnvelopeBudget): Promise<SignatureListing> {
    return toListing(await this.#registry(loc).signatures(loc.repository, digest, signal, budget));
  }

  async ecrSignatures(loc: EcrImageLocation, digest: string, signal: AbortSignal, budget?: EnvelopeBudget): Promise<SignatureListing> {
    return toListing(await this.#ecrRegistry(loc).signatures(loc.repository, digest, signal, budget));
  }

  // cosign (issue 19): bundle referrers and the sha256-<hex>.sig tag (oci/cosign-signatures.ts).
  async cosignSignatures(loc: OciImageLocation, digest: string, signal: AbortSignal, budget?: EnvelopeBudget): Promise<CosignListing> {
    return listCosignSignatures(this.#registry(loc), loc.repository, digest, signal, budget);
  }

  async ecrCosignSignatures(loc: EcrImageLocation, digest: string, signal: AbortSignal, budget?: EnvelopeBudget): Promise<CosignListing> {
    return listCosignSignatures(this.#ecrRegistry(loc), loc.repository, digest, signal, budget);
  }
}
