// One place that builds AWS SDK clients: one per (service, account, region), with the
// endpoint overrides every test and PrivateLink set-up uses, the per-account role to assume,
// and a middleware that counts every call for /metrics.
import { ECRClient } from '@aws-sdk/client-ecr';
import { Inspector2Client } from '@aws-sdk/client-inspector2';
import { SignerClient } from '@aws-sdk/client-signer';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, InitializeMiddleware } from '@smithy/types';
import type { AwsConfig } from '../config/schema.ts';
import type { Metrics } from '../server/metrics.ts';
import { trackCall } from './pending-calls.ts';

type Env = Readonly<Record<string, string | undefined>>;
type Service = 'ecr' | 'inspector2' | 'signer';

export interface AwsClientsOptions {
  readonly env: Env;
  readonly aws: AwsConfig;
  /** Role to assume for an account's registries (policy registries.ecr[].roleArn). */
  readonly roleFor: (accountId: string) => string | undefined;
  readonly metrics?: Metrics;
  /** Fixed credentials (tests, the demo); otherwise the SDK default chain (IRSA, Pod Identity, ...). */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

const ENDPOINT_VARIABLES: Record<Service | 'sts', string> = {
  ecr: 'AWS_ENDPOINT_URL_ECR',
  inspector2: 'AWS_ENDPOINT_URL_INSPECTOR2',
  signer: 'AWS_ENDPOINT_URL_SIGNER',
  sts: 'AWS_ENDPOINT_URL_STS',
};

/** Names the outcome of a call the way metrics and messages show it. */
export function outcomeOf(error: unknown): string {
  if (!error) return 'ok';
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'timeout';
  return e.name ?? 'error';
}

export class AwsClients {
  readonly #options: AwsClientsOptions;
  readonly #clients = new Map<string, ECRClient | Inspector2Client | SignerClient>();

  constructor(options: AwsClientsOptions) {
    this.#options = options;
  }

  endpoint(service: Service | 'sts'): string | undefined {
    const fromEnv = this.#options.env[ENDPOINT_VARIABLES[service]];
    return fromEnv !== undefined && fromEnv !== '' ? fromEnv : this.#options.aws.endpoints[service];
  }

  #credentials(accountId: string | undefined, region: string): AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined {
    const role = accountId !== undefined ? this.#options.roleFor(accountId) : undefined;
    if (role === undefined) return this.#options.credentials;
    const sts = this.endpoint('sts');
    return fromTemporaryCredentials({
      params: { RoleArn: role, RoleSessionName: 'ecr-admission' },
      ...(this.#options.credentials !== undefined && { masterCredentials: this.#options.credentials }),
      clientConfig: { region, ...(sts !== undefined && { endpoint: sts }) },
    });
  }

  #config(service: Service, accountId: string | undefined, region: string) {
    const endpoint = this.endpoint(service);
    const credentials = this.#credentials(accountId, region);
    return {
      region,
      maxAttempts: this.#options.aws.maxAttempts,
      ...(endpoint !== undefined && { endpoint }),
      ...(credentials !== undefined && { credentials }),
      // Admissions carry their own deadline (abortSignal); these bound a stuck connection.
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 10_000 },
    };
  }

  #instrument<C extends ECRClient | Inspector2Client | SignerClient>(service: Service, client: C): C {
    const metrics = this.#options.metrics;
    const stack = client.middlewareStack as unknown as { add(mw: InitializeMiddleware<object, object>, options: { step: 'initialize'; name: string }): void };
    // Around the SDK's retries: a call is in flight from the first attempt to the last answer,
    // so a deadline that strikes during a retry back-off still names it.
    stack.add(
      (next, context) => (args) => trackCall(`${service} ${(context.commandName ?? 'unknown').replace(/Command$/, '')}`, () => next(args)),
      { step: 'initialize', name: 'ecrAdmissionPendingCalls' },
    );
    if (metrics) {
      stack.add(
        (next, context) => async (args) => {
          const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
          try {
            const result = await next(args);
            metrics.awsCalls.inc({ service, operation, outcome: 'ok' });
            return result;
          } catch (error) {
            metrics.awsCalls.inc({ service, operation, outcome: outcomeOf(error) });
            throw error;
          }
        },
        { step: 'initialize', name: 'ecrAdmissionMetrics' },
      );
    }
    return client;
  }

  #cached<C extends ECRClient | Inspector2Client | SignerClient>(key: string, make: () => C): C {
    let client = this.#clients.get(key) as C | undefined;
    if (!client) {
      client = make();
      this.#clients.set(key, client);
    }
    return client;
  }

  ecr(accountId: string, region: string): ECRClient {
    return this.#cached(`ecr/${accountId}/${region}`, () => this.#instrument('ecr', new ECRClient(this.#config('ecr', accountId, region))));
  }

  inspector(accountId: string, region: string): Inspector2Client {
    return this.#cached(`inspector2/${accountId}/${region}`, () => this.#instrument('inspector2', new Inspector2Client(this.#config('inspector2', accountId, region))));
  }

  /** Signer's GetRevocationStatus goes to a "data-" prefixed host; with a custom endpoint
   *  that prefix would break the URL, so it is turned off whenever an endpoint is given. */
  signer(accountId: string, region: string): SignerClient {
    return this.#cached(`signer/${accountId}/${region}`, () => {
      const config = this.#config('signer', accountId, region);
      return this.#instrument('signer', new SignerClient({ ...config, ...(config.endpoint !== undefined && { disableHostPrefix: true }) }));
    });
  }

  destroy(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }
}
