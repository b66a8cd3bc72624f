// Credentials for ECR's registry endpoint (https://<account>.dkr.ecr.<region>.amazonaws.com):
// HTTP Basic AWS:<password>, the password from GetAuthorizationToken (valid 12 hours). One
// token per (account, region) is cached until shortly before its expiresAt; concurrent
// admissions share one call; a registry that refuses the token gets a fresh one.
import { untilAborted } from '../../support/abort.ts';
import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ecrHost } from '../../image/ecr-host.ts';
import type { AwsClients } from '../aws-clients.ts';
import { FactError, fromAwsError } from '../errors.ts';
import { OciRegistryClient, type OciRegistryOptions } from '../oci/registry.ts';
import type { CredentialSource, RegistryCredentials } from '../oci/types.ts';
import { ErrorCodes } from '../../support/errors.ts';

const OPERATION = 'GetAuthorizationToken';
const FIVE_MINUTES = 5 * 60 * 1000;

/** Decodes authorizationData[].authorizationToken: base64 of "AWS:<password>". */
export function decodeEcrAuthorizationToken(token: string): RegistryCredentials {
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const sep = decoded.indexOf(':');
  if (sep <= 0 || sep === decoded.length - 1) {
    throw new FactError(ErrorCodes.AWS_ERROR, 'ecr', OPERATION, 'GetAuthorizationToken returned a token that is not base64 "user:password"');
  }
  return { username: decoded.slice(0, sep), password: decoded.slice(sep + 1) };
}

export interface EcrRegistryAuthOptions {
  readonly clients: AwsClients;
  readonly accountId: string;
  readonly region: string;
  /** Longest time before expiresAt at which a token is replaced (default 5 minutes; never
   *  more than a tenth of the token's lifetime, so short-lived tokens are still reused). */
  readonly refreshMarginMs?: number;
  /** Bound of the shared GetAuthorizationToken call (default 10 s). */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

interface CachedCredentials {
  readonly credentials: RegistryCredentials;
  readonly replaceAt: number;
}

export class EcrRegistryAuth {
  readonly #options: EcrRegistryAuthOptions;
  #cached: CachedCredentials | undefined;
  #inflight: Promise<CachedCredentials> | undefined;

  constructor(options: EcrRegistryAuthOptions) {
    this.#options = options;
  }

  /** A CredentialSource for OciRegistryClient. */
  readonly credentials: CredentialSource = async ({ refresh, signal }) => {
    const now = (this.#options.now ?? Date.now)();
    if (refresh) this.#cached = undefined;
    if (this.#cached && this.#cached.replaceAt > now) return this.#cached.credentials;
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return (await untilAborted(this.#inflight, signal, deadlineError)).credentials;
  };

  async #fetch(): Promise<CachedCredentials> {
    const { clients, accountId, region } = this.#options;
    let out;
    try {
      out = await clients.ecr(accountId, region).send(new GetAuthorizationTokenCommand({}), {
        abortSignal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      throw fromAwsError(error, 'ecr', OPERATION);
    }
    const data = out.authorizationData?.[0];
    if (!data?.authorizationToken) throw new FactError(ErrorCodes.AWS_ERROR, 'ecr', OPERATION, 'GetAuthorizationToken returned no authorization data');
    const credentials = decodeEcrAuthorizationToken(data.authorizationToken);
    const now = (this.#options.now ?? Date.now)();
    const expiresAt = data.expiresAt?.getTime() ?? now + 60 * 60 * 1000;
    const lifetime = Math.max(0, expiresAt - now);
    const margin = Math.min(this.#options.refreshMarginMs ?? FIVE_MINUTES, lifetime / 10);
    this.#cached = { credentials, replaceAt: expiresAt - margin };
    return this.#cached;
  }
}

const deadlineError = () => new FactError(ErrorCodes.TIMEOUT, 'ecr', OPERATION, `ecr ${OPERATION} did not answer within the admission deadline`);

export interface EcrRegistryClientOptions extends Omit<OciRegistryOptions, 'baseUrl' | 'credentials'> {
  readonly clients: AwsClients;
  readonly accountId: string;
  readonly region: string;
  /** Default https://<account>.dkr.ecr.<region>.amazonaws.com[.cn]; give the image's own host
   *  for FIPS or dual-stack endpoints, or the sandbox URL in tests. */
  readonly baseUrl?: string;
  readonly auth?: Omit<EcrRegistryAuthOptions, 'clients' | 'accountId' | 'region'>;
}

/** An OCI client for one ECR registry, authenticated with GetAuthorizationToken. */
export function ecrRegistryClient(options: EcrRegistryClientOptions): OciRegistryClient {
  const { clients, accountId, region, baseUrl, auth, ...rest } = options;
  const source = new EcrRegistryAuth({ clients, accountId, region, ...auth });
  return new OciRegistryClient({ ...rest, baseUrl: baseUrl ?? `https://${ecrHost(accountId, region)}`, credentials: source.credentials });
}
