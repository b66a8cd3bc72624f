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
import { SignerRevocation } from '../facts/signer/revocation.ts';
import type { Metrics } from '../support/metrics.ts';
import { createCredentialCheck, type CredentialCheck } from './credentials.ts';
import { namespaceLabelGuardFromEnv } from '../admission/namespace-labels.ts';
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
}

export interface Runtime {
  readonly reviewer: Reviewer;
  readonly cache: FactCache;
  /** Whether AWS credentials were obtained at least once (serve's readiness); start() it. */
  readonly credentials: CredentialCheck;
  close(): Promise<void>;
}

/**
 * The one credentials provider of the process: the clients and the readiness check share it, so
 * what made the Pod ready is what the calls use (fromNodeProviderChain caches and refreshes).
 */
function credentialProvider(options: RuntimeOptions): AwsCredentialIdentityProvider {
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
  const cache = new FactCache({ maxEntries: policy.cache.maxEntries, metrics: options.metrics, ...(now !== undefined && { now }) });
  const ecr = new EcrFacts({ clients, cache, ttl: policy.cache });
  const oci = new OciFacts({ clients, cache, ttl: policy.cache, aws: policy.aws });
  // The chart's namespace-label guard (webhook.namespaceOptOutLabel); a bad value stops start-up.
  const namespaceLabels = namespaceLabelGuardFromEnv(options.env);
  const reviewer = createReviewer({
    ...(namespaceLabels !== undefined && { namespaceLabels }),
    policy: () => options.policyStore.current(),
    checks: buildChecks({
      ecr,
      oci,
      signature: {
        cache,
        source: new EcrSignatureSource(clients),
        oci,
        revocation: new SignerRevocation({ clients, cache, ttlSeconds: policy.cache.ttlSeconds.revocation }),
        ttl: policy.cache,
        ...(now !== undefined && { now }),
      },
      vulnerabilities: new VulnerabilityFacts({ clients, cache, ttl: policy.cache }),
    }),
    budgetMs: options.budgetMs,
    // Image results reused while every fact behind them is still the one read (issue 18).
    memo: new CheckMemo({ maxEntries: policy.cache.maxEntries, metrics: options.metrics, ...(now !== undefined && { now }) }),
    metrics: options.metrics,
    logger: options.logger,
    ...(now !== undefined && { now: () => new Date(now()) }),
    // The UPDATE shortcut asks whether a tag's digest is still trusted from the cache.
    tagDigests: {
      freshTagDigest: (subject, tag) =>
        subject.oci ? oci.freshTagDigest(subject.oci, tag) : subject.ecr && subject.managed ? ecr.freshTagDigest(subject.ecr, tag) : undefined,
    },
  });
  const credentials = createCredentialCheck({ provider, logger: options.logger });
  return { reviewer, cache, credentials, close: () => Promise.resolve(clients.destroy()) };
}
