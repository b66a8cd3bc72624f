// Readiness's AWS part: a Pod is ready only once it has obtained AWS credentials at least once.
// A broken IRSA or Pod Identity set-up (no role annotation, no association, a trust policy that
// refuses the service account, the agent unreachable) then keeps the Pod unready with the
// reason in the log and in /readyz, instead of serving and denying every image by onError.
// Only the first success counts: after it, the health of each AWS call is the metrics' and the
// alerts' business, never readiness (an AWS outage must not empty the Service).
import type { Logger } from 'pino';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { errorMessage } from '../support/errors.ts';

export interface CredentialStatus {
  readonly obtained: boolean;
  readonly attempts: number;
  /** Where the SDK found them (its $source attribution), once obtained. */
  readonly source?: string;
  /** Why the last attempt failed (until one succeeds). */
  readonly lastError?: string;
}

export interface CredentialCheck {
  status(): CredentialStatus;
  /** Resolves the provider until it succeeds, backing off between attempts; returns a stop. */
  start(): () => void;
}

export interface CredentialCheckOptions {
  readonly provider: AwsCredentialIdentityProvider;
  readonly logger: Logger;
  /** First wait after a failure, doubled each time up to maxDelayMs. */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
}

// The SDK's own attribution of credentials (AwsSdkCredentialsFeatures, @aws-sdk/types
// feature-ids.d.ts), named for an EKS operator; the first match wins (a web identity session is
// attributed to both of its IRSA features).
const SOURCES: ReadonlyArray<readonly [feature: string, name: string]> = [
  ['CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN', 'web identity token (IRSA)'],
  ['CREDENTIALS_STS_ASSUME_ROLE_WEB_ID', 'web identity token (IRSA)'],
  ['CREDENTIALS_HTTP', 'container credentials endpoint (EKS Pod Identity)'],
  ['CREDENTIALS_IMDS', "instance metadata (the node's role)"],
  ['CREDENTIALS_ENV_VARS', 'environment variables'],
];

function sourceOf(identity: unknown): string {
  const features = (identity as { $source?: Record<string, unknown> } | undefined)?.$source ?? {};
  return SOURCES.find(([feature]) => feature in features)?.[1] ?? 'given';
}

/** Longest wait between attempts: a fixed set-up (association made, role trusted) is seen within it. */
export const MAX_CREDENTIAL_RETRY_MS = 30_000;

export function createCredentialCheck(options: CredentialCheckOptions): CredentialCheck {
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? MAX_CREDENTIAL_RETRY_MS;
  let obtained = false;
  let attempts = 0;
  let lastError: string | undefined;
  let source: string | undefined;
  return {
    status: () => ({ obtained, attempts, ...(source !== undefined && { source }), ...(lastError !== undefined && { lastError }) }),
    start() {
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const attempt = async (delay: number): Promise<void> => {
        if (stopped || obtained) return;
        attempts++;
        try {
          source = sourceOf(await options.provider());
          obtained = true;
          lastError = undefined;
          options.logger.info({ attempts, source }, 'AWS credentials obtained: ready');
          // Pods that reach instance metadata get the node's role when IRSA and Pod Identity
          // are missing: it works until the node role lacks a permission, and grants every pod
          // on the node the same. Said once, loudly.
          if (source.startsWith('instance metadata'))
            options.logger.warn("AWS credentials come from the node's instance role: neither IRSA nor EKS Pod Identity is set up for this ServiceAccount");
        } catch (err) {
          if (stopped) return;
          lastError = errorMessage(err);
          options.logger.warn(
            { err: lastError, attempts, retryInMs: delay },
            'cannot obtain AWS credentials (IRSA role annotation, Pod Identity association, trust policy?): not ready',
          );
          timer = setTimeout(() => void attempt(Math.min(delay * 2, max)), delay);
        }
      };
      void attempt(initial);
      return () => {
        stopped = true;
        if (timer) clearTimeout(timer);
      };
    },
  };
}
