// Registry authentication, learned from the registry's own 401 challenges: anonymous first;
// HTTP Basic when it asks for Basic (ECR: AWS:<GetAuthorizationToken password>); the Bearer
// token flow when it asks for Bearer (realm, service, scope -> GET token -> retry). What the
// first challenge taught is remembered, so later requests authenticate up front, and tokens
// are cached per scope until shortly before they expire.
import { untilAborted } from '../../support/abort.ts';
import { FactError } from '../errors.ts';
import { parseChallenges } from './challenge.ts';
import { ociError, statusError } from './errors.ts';
import { checkScheme, exchange } from './http.ts';
import { MAX_SMALL_BODY_BYTES, type CredentialSource, type RegistryCredentials } from './types.ts';
import { ErrorCodes } from '../../support/errors.ts';

export interface AuthorizerOptions {
  readonly credentials?: CredentialSource;
  readonly plainHttp: boolean;
  readonly timeoutMs: number;
  readonly now: () => number;
}

interface CachedToken {
  readonly header: string;
  readonly expiresAt: number;
}

/** Docker token spec: a token without expires_in lives 60 seconds. */
const DEFAULT_TOKEN_SECONDS = 60;
const TOKEN_OPERATION = 'GET token';
const MAX_CACHED_TOKENS = 1000;

const basicHeader = (c: RegistryCredentials): string => `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;

const deadlineError = (operation: string) => () =>
  ociError(ErrorCodes.TIMEOUT, operation, `registry ${operation} did not answer within the admission deadline`);

export class RegistryAuthorizer {
  readonly #options: AuthorizerOptions;
  #scheme: 'anonymous' | 'basic' | 'bearer' = 'anonymous';
  #bearer: { realm: string; service: string | undefined } | undefined;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #inflight = new Map<string, Promise<string>>();
  #refreshCredentials = false;

  constructor(options: AuthorizerOptions) {
    this.#options = options;
  }

  /** The Authorization header to send up front for `scope` (undefined: go anonymous). */
  async authorization(scope: string, signal: AbortSignal): Promise<string | undefined> {
    if (this.#scheme === 'basic') return this.#basic(signal);
    if (this.#scheme === 'bearer' && this.#bearer) {
      const cached = this.#tokens.get(scope);
      if (cached && cached.expiresAt > this.#options.now()) return cached.header;
      return this.#token(scope, scope, signal);
    }
    return undefined;
  }

  /** After a 401: the header to retry with. Throws ACCESS_DENIED when there is nothing new to try. */
  async answer(wwwAuthenticate: string | null, scope: string, rejected: string | undefined, signal: AbortSignal, operation: string): Promise<string> {
    const challenges = parseChallenges(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      if (bearer.params.error === 'insufficient_scope') {
        throw ociError(ErrorCodes.ACCESS_DENIED, operation, `registry token lacks the scope ${bearer.params.scope ?? scope} (insufficient_scope)`);
      }
      this.#scheme = 'bearer';
      this.#bearer = { realm: bearer.params.realm!, service: bearer.params.service };
      // A concurrent request may have fetched a token since this one went out anonymous.
      const cached = this.#tokens.get(scope);
      if (cached && cached.header !== rejected && cached.expiresAt > this.#options.now()) return cached.header;
      if (rejected?.startsWith('Bearer ')) {
        // The token was refused: drop it, and ask for fresh credentials for the next one.
        this.#tokens.delete(scope);
        this.#refreshCredentials = true;
      }
      return this.#token(scope, bearer.params.scope || scope, signal);
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      this.#scheme = 'basic';
      if (rejected?.startsWith('Basic ')) this.#refreshCredentials = true;
      const header = await this.#basic(signal);
      if (header === undefined) throw ociError(ErrorCodes.ACCESS_DENIED, operation, 'registry requires credentials (HTTP Basic) and none are configured');
      if (header === rejected) throw ociError(ErrorCodes.ACCESS_DENIED, operation, 'registry refused the configured credentials (HTTP 401)');
      return header;
    }
    throw ociError(
      ErrorCodes.ACCESS_DENIED,
      operation,
      `registry answered HTTP 401 without a challenge this client can answer (${(wwwAuthenticate ?? 'no WWW-Authenticate').slice(0, 100)})`,
    );
  }

  async #credentials(signal: AbortSignal): Promise<RegistryCredentials | undefined> {
    const source = this.#options.credentials;
    if (!source) return undefined;
    const refresh = this.#refreshCredentials;
    this.#refreshCredentials = false;
    try {
      return await source({ refresh, signal });
    } catch (error) {
      if (error instanceof FactError) throw error;
      throw ociError(ErrorCodes.AWS_ERROR, 'credentials', `could not obtain registry credentials: ${(error as Error)?.message ?? String(error)}`, error);
    }
  }

  async #basic(signal: AbortSignal): Promise<string | undefined> {
    const credentials = await this.#credentials(signal);
    return credentials && basicHeader(credentials);
  }

  /** A Bearer header for `cacheKey`; concurrent requests for one scope share one token fetch. */
  #token(cacheKey: string, scope: string, signal: AbortSignal): Promise<string> {
    let pending = this.#inflight.get(cacheKey);
    if (!pending) {
      pending = this.#fetchToken(cacheKey, scope).finally(() => this.#inflight.delete(cacheKey));
      this.#inflight.set(cacheKey, pending);
    }
    return untilAborted(pending, signal, deadlineError(TOKEN_OPERATION));
  }

  async #fetchToken(cacheKey: string, scope: string): Promise<string> {
    const { realm, service } = this.#bearer!;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw ociError(ErrorCodes.ACCESS_DENIED, TOKEN_OPERATION, `registry named an unusable token realm '${realm.slice(0, 100)}'`);
    }
    checkScheme(url, this.#options.plainHttp, TOKEN_OPERATION);
    if (service) url.searchParams.set('service', service);
    for (const s of scope.split(' ').filter(Boolean)) url.searchParams.append('scope', s);
    // The shared fetch is bounded by its own timeout, not by the first caller's deadline.
    const credentials = await this.#credentials(AbortSignal.timeout(this.#options.timeoutMs));
    const response = await exchange({
      method: 'GET',
      url,
      operation: TOKEN_OPERATION,
      what: `token for ${scope}`,
      headers: { accept: 'application/json', ...(credentials && { authorization: basicHeader(credentials) }) },
      signal: new AbortController().signal,
      timeoutMs: this.#options.timeoutMs,
      maxBytes: MAX_SMALL_BODY_BYTES,
      tooLarge: (m) => ociError(ErrorCodes.AWS_ERROR, TOKEN_OPERATION, m),
      plainHttp: this.#options.plainHttp,
      maxRedirects: 0,
    });
    if (response.status === 401 || response.status === 403) {
      throw ociError(
        ErrorCodes.ACCESS_DENIED,
        TOKEN_OPERATION,
        `token service ${url.host} refused ${credentials ? 'the configured credentials' : 'an anonymous request'} (HTTP ${response.status})`,
      );
    }
    if (response.status < 200 || response.status >= 300) throw statusError(response.status, response.body, TOKEN_OPERATION, `token for ${scope}`);
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(new TextDecoder().decode(response.body)) as typeof parsed;
    } catch {
      throw ociError(ErrorCodes.AWS_ERROR, TOKEN_OPERATION, `token service ${url.host} answered something that is not JSON`);
    }
    const token = typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token === '') throw ociError(ErrorCodes.AWS_ERROR, TOKEN_OPERATION, `token service ${url.host} answered without a token`);
    const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    const lifetimeMs = seconds * 1000;
    // Replace a token a little before it expires (clocks differ, requests take time).
    const expiresAt = this.#options.now() + lifetimeMs - Math.min(30_000, lifetimeMs / 10);
    const header = `Bearer ${token}`;
    // One entry per repository scope: bounded, oldest first out, so a stream of admissions
    // naming made-up repositories cannot grow it without end.
    if (this.#tokens.size >= MAX_CACHED_TOKENS) this.#tokens.delete(this.#tokens.keys().next().value!);
    this.#tokens.set(cacheKey, { header, expiresAt });
    return header;
  }
}
