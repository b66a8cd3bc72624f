// Wires the parts one process needs (policy, checks, facts, metrics) for serve, check and
// demo alike, so the webhook and the CLI reach the same decision by the same code path.
import type { Logger } from 'pino';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { createReviewer, type Reviewer } from '../admission/pipeline.ts';
import { buildChecks } from '../checks/index.ts';
import type { PolicyStore } from '../policy/store.ts';
import { FactCache } from '../support/fact-cache.ts';
import { AwsClients } from '../facts/aws-clients.ts';
import { EcrFacts } from '../facts/ecr/images.ts';
import { VulnerabilityFacts } from '../facts/vulnerabilities.ts';
import { EcrSignatureSource } from '../facts/ecr/signatures.ts';
import { OciFacts } from '../facts/oci/facts.ts';
import { EcrCosignSource } from '../facts/ecr/cosign-signatures.ts';
import { KmsPublicKeys } from '../facts/kms/public-keys.ts';
import { SignerRevocation } from '../facts/signer/revocation.ts';
import type { Metrics } from '../support/metrics.ts';
import { createCredentialCheck, type CredentialCheck } from './credentials.ts';
import { namespaceLabelGuardFromEnv } from '../admission/namespace-labels.ts';
import { EcrPostureFacts } from '../facts/ecr/posture.ts';
import { createPinResolver, type PinResolver } from '../admission/pin-resolver.ts';
import { createMutator, type Mutator } from '../admission/mutate.ts';
import { createSharedFactCache, inGroups, type SharedFactCache } from '../facts/shared-cache/index.ts';
import { createEvents, type Events } from '../events/index.ts';
import { CheckMemo } from '../admission/check-memo.ts';

export interface RuntimeOptions {
  readonly policyStore: PolicyStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly budgetMs: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Fixed AWS credentials (the demo's sandbox) or a provider (tests); otherwise the keys in
   *  `env`, or else the SDK's default chain (IRSA, Pod Identity, ...). */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** The clock, in ms since the epoch (default Date.now), of cached facts' TTLs, signature
   *  verdicts and verification time, and exception expiry: tests move their own past a TTL
   *  instead of sleeping. Deadlines stay on real time: they bound real waiting. */
  readonly now?: () => number;
  /** Time allowed for one /mutate's lookups (digest pinning); default DEFAULT_PIN_BUDGET_MS. */
  readonly pinBudgetMs?: number;
}

export const DEFAULT_PIN_BUDGET_MS = 3000;

export interface Runtime {
  readonly reviewer: Reviewer;
  /** Digest pinning, on the same checks and fact cache as the reviewer. */
  readonly pins: PinResolver;
  readonly mutator: Mutator;
  readonly cache: FactCache;
  /** The reviewer's remembered check results (check-memo.ts). */
  readonly memo: CheckMemo;
  /** The fleet's shared level under `cache` (policy cache.shared), if configured. */
  readonly shared?: SharedFactCache;
  /** The SQS poller of AWS events (policy events), if configured: serve starts it. */
  readonly events?: Events;
  /** Whether AWS credentials were obtained at least once (serve's readiness); start() it. */
  readonly credentials: CredentialCheck;
  close(): Promise<void>;
}

/**
 * The one credentials provider of the process: the clients and the readiness check share it, so
 * what made the Pod ready is what the calls use (fromNodeProviderChain caches and refreshes).
 */
export function credentialProvider(options: Pick<RuntimeOptions, 'env' | 'credentials'>): AwsCredentialIdentityProvider {
  const given = options.credentials;
  if (typeof given === 'function') return given;
  if (given !== undefined) return () => Promise.resolve(given);
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = options.env;
  if (accessKeyId && secretAccessKey) {
    const fixed: AwsCredentialIdentity = { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) };
    return () => Promise.resolve(fixed);
  }
  return fromNodeProviderChain();
}

export function createRuntime(options: RuntimeOptions): Runtime {
  // Cache size, TTLs and AWS endpoints come from the policy in force at start; a reloaded
  // policy changes checks and modes at once, these at the next restart.
  const policy = options.policyStore.current();
  const provider = credentialProvider(options);
  const clients = new AwsClients({
    env: options.env,
    aws: policy.aws,
    roleFor: (accountId) => options.policyStore.current().ecrAccounts.get(accountId)?.roleArn,
    metrics: options.metrics,
    credentials: provider,
  });
  const now = options.now;
  // Issue 16: facts shared with the other replicas through Valkey/Redis; a drop published by
  // any of them (an AWS event) reaches this process's cache.
  const dropsTo: { cache?: FactCache } = {};
  const shared =
    policy.cache.shared &&
    createSharedFactCache(policy.cache.shared, {
      env: options.env,
      metrics: options.metrics,
      logger: options.logger,
      onDrop: (g) => dropsTo.cache?.drop(inGroups(g)),
    });
  const cache = new FactCache({ maxEntries: policy.cache.maxEntries, metrics: options.metrics, ...(now !== undefined && { now }), ...(shared && { shared }) });
  dropsTo.cache = cache;
  const ecr = new EcrFacts({ clients, cache, ttl: policy.cache });
  const oci = new OciFacts({ clients, cache, ttl: policy.cache, aws: policy.aws });
  const signatureSource = new EcrSignatureSource(clients);
  // cosign (issue 19): ECR discovery and KMS authorities' public keys (kept for the digest TTL).
  const cosign = { ecr: new EcrCosignSource(clients, signatureSource), kms: new KmsPublicKeys({ clients, cache, ttlSeconds: policy.cache.ttlSeconds.digest }) };
  // The chart's namespace-label guard (webhook.namespaceOptOutLabel); a bad value stops start-up.
  const namespaceLabels = namespaceLabelGuardFromEnv(options.env);
  const checks = buildChecks({
    ecr,
    oci,
    signature: {
      cache,
      source: signatureSource,
      oci,
      cosign,
      revocation: new SignerRevocation({ clients, cache, ttlSeconds: policy.cache.ttlSeconds.revocation }),
      ttl: policy.cache,
      ...(now !== undefined && { now }),
    },
    vulnerabilities: new VulnerabilityFacts({ clients, cache, ttl: policy.cache }),
    posture: new EcrPostureFacts({ clients, cache, ttl: policy.cache }),
  });
  const memo = new CheckMemo({ maxEntries: policy.cache.maxEntries, metrics: options.metrics, ...(now !== undefined && { now }) });
  const reviewer = createReviewer({
    ...(namespaceLabels !== undefined && { namespaceLabels }),
    policy: () => options.policyStore.current(),
    checks,
    budgetMs: options.budgetMs,
    // Image results reused while every fact behind them is still the one read (issue 18).
    memo,
    metrics: options.metrics,
    logger: options.logger,
    ...(now !== undefined && { now: () => new Date(now()) }),
    // The UPDATE shortcut asks whether a tag's digest is still trusted from the cache.
    tagDigests: {
      freshTagDigest: (subject, tag) =>
        subject.oci ? oci.freshTagDigest(subject.oci, tag) : subject.ecr && subject.managed ? ecr.freshTagDigest(subject.ecr, tag) : undefined,
    },
  });
  // Digest pinning resolves with the reviewer's own checks, facts and cache (pin-resolver.ts).
  const pins = createPinResolver({ checks, ...(now !== undefined && { now: () => new Date(now()) }) });
  const mutator = createMutator({ policy: () => options.policyStore.current(), resolver: pins, budgetMs: options.pinBudgetMs ?? DEFAULT_PIN_BUDGET_MS });
  const credentials = createCredentialCheck({ provider, logger: options.logger });
  const events =
    policy.events &&
    createEvents(policy.events, {
      env: options.env,
      credentials: provider,
      cache,
      ...(shared && { shared }),
      checks,
      policy: () => options.policyStore.current(),
      budgetMs: options.budgetMs,
      ...(now !== undefined && { now }),
      logger: options.logger,
      metrics: options.metrics,
    });
  const close = async () => {
    await events?.stop();
    clients.destroy();
    await shared?.close();
  };
  return { reviewer, pins, mutator, cache, memo, ...(shared && { shared }), ...(events && { events }), credentials, close };
}
