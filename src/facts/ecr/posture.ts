// ECR facts about a repository's posture (the posture check and `audit`): its lifecycle policy
// and its repository policy, each cached per repository with the repository TTL, like
// DescribeRepositories. "There is none" is a fact here, not an error: GetLifecyclePolicy answers
// LifecyclePolicyNotFoundException and GetRepositoryPolicy RepositoryPolicyNotFoundException
// (client-ecr models/errors.d.ts) for a repository without one. Every other failure (access
// denied, throttling) is a FactError that names the call.
import { GetLifecyclePolicyCommand, GetRepositoryPolicyCommand } from '@aws-sdk/client-ecr';
import type { CacheConfig } from '../../policy/schema.ts';
import type { EcrImageLocation } from '../ports.ts';
import type { FactCache, FactSpec } from '../../support/fact-cache.ts';
import type { AwsClients } from '../aws-clients.ts';
import { FactError, fromAwsError } from '../errors.ts';
import { outcomeOf } from '../aws-clients.ts';
import { EcrScanFacts, type RegistryScanning } from './scan.ts';

export interface LifecyclePolicyFact {
  readonly present: boolean;
}

export interface RepositoryPolicyFact {
  /** GetRepositoryPolicy's policyText; undefined: the repository has no policy. */
  readonly text?: string;
}

const where = (loc: EcrImageLocation) => `${loc.accountId}/${loc.region}/${loc.repository}`;
const isDefinitive = (error: unknown) => error instanceof FactError && error.definitive;

export interface EcrPostureFactsOptions {
  readonly clients: AwsClients;
  readonly cache: FactCache;
  readonly ttl: CacheConfig;
}

export class EcrPostureFacts {
  readonly #clients: AwsClients;
  readonly #cache: FactCache;
  readonly #scan: EcrScanFacts;
  readonly #lifecycleSpec: FactSpec<LifecyclePolicyFact>;
  readonly #policySpec: FactSpec<RepositoryPolicyFact>;

  constructor(options: EcrPostureFactsOptions) {
    this.#clients = options.clients;
    this.#cache = options.cache;
    const s = options.ttl.ttlSeconds;
    const staleMs = options.ttl.staleSeconds * 1000;
    const notFound = (e: unknown) => (isDefinitive(e) ? s.notFound * 1000 : undefined);
    this.#lifecycleSpec = { fact: 'lifecycle-policy', ttlMs: () => s.repository * 1000, staleMs, negativeTtlMs: notFound };
    this.#policySpec = { fact: 'repository-policy', ttlMs: () => s.repository * 1000, staleMs, negativeTtlMs: notFound };
    // The same fact kind and key as the vulnerabilities check's: one cached entry per account and region.
    this.#scan = new EcrScanFacts({ clients: options.clients, cache: options.cache, ttlMs: s.repository * 1000, staleMs });
  }

  /** GetRegistryScanningConfiguration, cached per account and region. */
  registryScanning(loc: EcrImageLocation, signal: AbortSignal, budgetMs: number): Promise<RegistryScanning> {
    return this.#scan.registryScanning(loc, signal, budgetMs);
  }

  /** GetLifecyclePolicy: whether the repository has a lifecycle policy (ECR.3). */
  lifecyclePolicy(loc: EcrImageLocation, signal: AbortSignal, budgetMs: number): Promise<LifecyclePolicyFact> {
    return this.#cache.get(
      this.#lifecycleSpec,
      where(loc),
      async (loadSignal) => {
        try {
          const out = await this.#clients
            .ecr(loc.accountId, loc.region)
            .send(new GetLifecyclePolicyCommand({ registryId: loc.accountId, repositoryName: loc.repository }), { abortSignal: loadSignal });
          return { present: (out.lifecyclePolicyText ?? '') !== '' };
        } catch (error) {
          if (outcomeOf(error) === 'LifecyclePolicyNotFoundException') return { present: false };
          throw fromAwsError(error, 'ecr', 'GetLifecyclePolicy');
        }
      },
      signal,
      budgetMs,
    );
  }

  /** GetRepositoryPolicy: the repository policy's text, if it has one. */
  repositoryPolicy(loc: EcrImageLocation, signal: AbortSignal, budgetMs: number): Promise<RepositoryPolicyFact> {
    return this.#cache.get(
      this.#policySpec,
      where(loc),
      async (loadSignal) => {
        try {
          const out = await this.#clients
            .ecr(loc.accountId, loc.region)
            .send(new GetRepositoryPolicyCommand({ registryId: loc.accountId, repositoryName: loc.repository }), { abortSignal: loadSignal });
          return out.policyText !== undefined ? { text: out.policyText } : {};
        } catch (error) {
          if (outcomeOf(error) === 'RepositoryPolicyNotFoundException') return {};
          throw fromAwsError(error, 'ecr', 'GetRepositoryPolicy');
        }
      },
      signal,
      budgetMs,
    );
  }
}
