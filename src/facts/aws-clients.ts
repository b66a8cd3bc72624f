// One place that builds AWS SDK clients: one per (service, account, region), with the
// endpoint overrides every test and PrivateLink set-up uses, the per-account role to assume,
// and a middleware that counts every call for /metrics. The clients are kept in an LRU:
// regions come from image hosts (real regions only, image/ecr-host.ts) and accounts from the
// policy, yet each client costs about 21 KiB, so the set stays bounded whatever Pods name.
import { ECRClient } from '@aws-sdk/client-ecr';
import { Inspector2Client } from '@aws-sdk/client-inspector2';
import { SignerClient } from '@aws-sdk/client-signer';
import { KMSClient } from '@aws-sdk/client-kms';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { isIP } from 'node:net';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, InitializeMiddleware } from '@smithy/types';
import { LRUCache } from 'lru-cache';
import type { AwsConfig } from '../policy/schema.ts';
import type { Metrics } from '../support/metrics.ts';
import { trackCall } from '../support/pending-calls.ts';

type Env = Readonly<Record<string, string | undefined>>;
type Service = 'ecr' | 'inspector2' | 'signer' | 'kms';
type AnyClient = ECRClient | Inspector2Client | SignerClient | KMSClient;

/** Clients kept at most: every real region of the three partitions (about 40) for each of
 *  three services and two accounts, about 5 MiB. */
export const DEFAULT_MAX_CLIENTS = 256;

/** A kept client and the calls it has under way: an evicted client is destroyed (its sockets
 *  closed) only once its last call has answered, so eviction never cuts a call short. */
interface ClientEntry {
  readonly client: AnyClient;
  inFlight: number;
  evicted: boolean;
}

export interface AwsClientsOptions {
  readonly env: Env;
  readonly aws: AwsConfig;
  /** Role to assume for an account's registries (policy registries.ecr[].roleArn). */
  readonly roleFor: (accountId: string) => string | undefined;
  readonly metrics?: Metrics;
  /** Fixed credentials (tests, the demo); otherwise the SDK default chain (IRSA, Pod Identity, ...). */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Clients kept at once (least recently used evicted first); DEFAULT_MAX_CLIENTS when absent. */
  readonly maxClients?: number;
}

type EndpointName = Service | 'sts' | 'signerData';

const ENDPOINT_VARIABLES: Record<EndpointName, string> = {
  ecr: 'AWS_ENDPOINT_URL_ECR',
  inspector2: 'AWS_ENDPOINT_URL_INSPECTOR2',
  signer: 'AWS_ENDPOINT_URL_SIGNER',
  // The name the SDK's rule gives the Signer Data service (@aws-sdk/client-signer-data, the
  // data plane's own client): AWS_ENDPOINT_URL_ + its serviceId's words upper-cased and joined
  // by "_" (getEndpointUrlConfig, @smithy/core endpoints).
  signerData: 'AWS_ENDPOINT_URL_SIGNER_DATA',
  sts: 'AWS_ENDPOINT_URL_STS',
  kms: 'AWS_ENDPOINT_URL_KMS',
};

/**
 * Where GetRevocationStatus goes. The Signer model gives it the host prefix "data-"
 * (@aws-sdk/client-signer: GetRevocationStatus { endpoint: ["data-"] }): AWS serves revocation
 * on the data plane, data-signer.<region>.amazonaws.com, not on signer.<region>... (AWS Signer
 * endpoints and quotas, docs.aws.amazon.com/general/latest/gr/signer.html). So:
 * - a data-plane endpoint of its own (aws.endpoints.signerData, AWS_ENDPOINT_URL_SIGNER_DATA):
 *   revocation goes there as given, no prefix (a VPC endpoint's DNS name takes none);
 * - a Signer endpoint that is a hostname: the SDK's prefix applies, data-<host>, as AWS names
 *   the data plane (turning it off sent revocation to the control plane);
 * - a Signer endpoint that is an IP address or localhost (the sandbox, tests): no name can be
 *   prefixed, so revocation goes to that address, which must answer both planes.
 */
export function signerDataPlaneRoute(endpoint: string | undefined, dataEndpoint: string | undefined): { endpoint?: string; disableHostPrefix?: true } {
  if (dataEndpoint !== undefined) return { endpoint: dataEndpoint, disableHostPrefix: true };
  if (endpoint === undefined) return {};
  const host = new URL(endpoint).hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0 || host === 'localhost') return { endpoint, disableHostPrefix: true };
  return { endpoint };
}

/** Names the outcome of a call the way metrics and messages show it. */
export function outcomeOf(error: unknown): string {
  if (!error) return 'ok';
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'timeout';
  return e.name ?? 'error';
}

export class AwsClients {
  readonly #options: AwsClientsOptions;
  readonly #clients: LRUCache<string, ClientEntry>;

  constructor(options: AwsClientsOptions) {
    this.#options = options;
    this.#clients = new LRUCache<string, ClientEntry>({
      max: options.maxClients ?? DEFAULT_MAX_CLIENTS,
      dispose: (entry) => {
        entry.evicted = true;
        if (entry.inFlight === 0) entry.client.destroy();
      },
    });
  }

  /** How many clients are kept now. */
  get size(): number {
    return this.#clients.size;
  }

  endpoint(service: EndpointName): string | undefined {
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

  #instrument<C extends AnyClient>(service: Service, client: C): C {
    const metrics = this.#options.metrics;
    const stack = client.middlewareStack as unknown as { add(mw: InitializeMiddleware<object, object>, options: { step: 'initialize'; name: string }): void };
    // Around the SDK's retries: a call is in flight from the first attempt to the last answer,
    // so a deadline that strikes during a retry back-off still names it.
    stack.add((next, context) => (args) => trackCall(`${service} ${(context.commandName ?? 'unknown').replace(/Command$/, '')}`, () => next(args)), {
      step: 'initialize',
      name: 'ecrAdmissionPendingCalls',
    });
    if (metrics) {
      stack.add(
        (next, context) => async (args) => {
          // Label values from a fixed set: the service is ours, the operation the SDK command's
          // own name (never anything from the request or the image).
          const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
          const stopTimer = metrics.awsCallSeconds.startTimer({ service, operation });
          try {
            const result = await next(args);
            metrics.awsCalls.inc({ service, operation, outcome: 'ok' });
            return result;
          } catch (error) {
            metrics.awsCalls.inc({ service, operation, outcome: outcomeOf(error) });
            throw error;
          } finally {
            stopTimer();
          }
        },
        { step: 'initialize', name: 'ecrAdmissionMetrics' },
      );
    }
    return client;
  }

  #cached<C extends AnyClient>(key: string, make: () => C): C {
    const kept = this.#clients.get(key);
    if (kept) return kept.client as C;
    const client = make();
    const entry: ClientEntry = { client, inFlight: 0, evicted: false };
    const stack = client.middlewareStack as unknown as { add(mw: InitializeMiddleware<object, object>, options: { step: 'initialize'; name: string }): void };
    stack.add(
      (next) => async (args) => {
        entry.inFlight++;
        try {
          return await next(args);
        } finally {
          entry.inFlight--;
          if (entry.evicted && entry.inFlight === 0) client.destroy();
        }
      },
      { step: 'initialize', name: 'ecrAdmissionInFlight' },
    );
    this.#clients.set(key, entry);
    return client;
  }

  ecr(accountId: string, region: string): ECRClient {
    return this.#cached(`ecr/${accountId}/${region}`, () => this.#instrument('ecr', new ECRClient(this.#config('ecr', accountId, region))));
  }

  inspector(accountId: string, region: string): Inspector2Client {
    return this.#cached(`inspector2/${accountId}/${region}`, () =>
      this.#instrument('inspector2', new Inspector2Client(this.#config('inspector2', accountId, region))),
    );
  }

  /** The client for Signer's GetRevocationStatus, routed to the data plane (signerDataPlaneRoute). */
  signer(accountId: string, region: string): SignerClient {
    return this.#cached(`signer/${accountId}/${region}`, () => {
      const { endpoint, ...config } = this.#config('signer', accountId, region);
      return this.#instrument('signer', new SignerClient({ ...config, ...signerDataPlaneRoute(endpoint, this.endpoint('signerData')) }));
    });
  }

  /** KMS, for cosign authorities' keys (issue 19): GetPublicKey with the default credentials
   *  (a key in another account grants kms:GetPublicKey in its key policy). */
  kms(region: string): KMSClient {
    return this.#cached(`kms/${region}`, () => this.#instrument('kms', new KMSClient(this.#config('kms', undefined, region))));
  }

  /** Destroys every client (one with a call under way as soon as that call answers). */
  destroy(): void {
    this.#clients.clear();
  }
}
