// Runtime services that outlive a single request but are not fixture data: registry
// passwords (GetAuthorizationToken) and pre-signed layer URLs. Both are stateless tokens
// signed with a per-sandbox HMAC key, like the real ones, so a benchmark that asks for
// millions of them does not grow the sandbox's memory.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Runtime } from './context.ts';
import type { SandboxState, StoredRepository } from './store.ts';

const TWELVE_HOURS = 12 * 60 * 60 * 1000;
const ONE_HOUR = 60 * 60 * 1000;

interface LayerClaim {
  a: string; // account
  r: string; // region
  n: string; // repository name
  d: string; // digest
  e: number; // expiry, epoch ms
}

export class SandboxRuntime implements Runtime {
  readonly baseUrl: string;
  private readonly key = randomBytes(32);
  private readonly getState: () => SandboxState;

  constructor(baseUrl: string, getState: () => SandboxState) {
    this.baseUrl = baseUrl;
    this.getState = getState;
  }

  state(): SandboxState {
    return this.getState();
  }

  now(): Date {
    return new Date();
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }

  private seal(claim: object): string {
    const payload = Buffer.from(JSON.stringify(claim)).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  private open(token: string): unknown {
    const [payload, mac] = token.split('.');
    if (!payload || !mac) return undefined;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(mac);
    if (expected.byteLength !== given.byteLength || !timingSafeEqual(expected, given)) return undefined;
    try {
      return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
  }

  issueRegistryPassword(): { password: string; expiresAt: Date } {
    const expiresAt = new Date(this.now().getTime() + (this.state().fixture.registry?.tokenTtlMs ?? TWELVE_HOURS));
    return { password: this.seal({ e: expiresAt.getTime(), n: randomBytes(8).toString('hex') }), expiresAt };
  }

  registryPasswordValid(password: string): boolean {
    const claim = this.open(password) as { e?: unknown } | undefined;
    return typeof claim?.e === 'number' && claim.e > this.now().getTime();
  }

  issueLayerUrl(repo: StoredRepository, digest: string): string {
    const ttl = this.state().fixture.layerUrlTtlMs ?? ONE_HOUR;
    const claim: LayerClaim = { a: repo.account, r: repo.region, n: repo.name, d: digest, e: this.now().getTime() + ttl };
    return `${this.baseUrl}/layers/${this.seal(claim)}`;
  }

  resolveLayerUrl(token: string): { repo: StoredRepository; digest: string } | 'expired' | undefined {
    const claim = this.open(token) as Partial<LayerClaim> | undefined;
    if (
      !claim ||
      typeof claim.a !== 'string' ||
      typeof claim.r !== 'string' ||
      typeof claim.n !== 'string' ||
      typeof claim.d !== 'string' ||
      typeof claim.e !== 'number'
    )
      return undefined;
    if (claim.e <= this.now().getTime()) return 'expired';
    const repo = this.state().repository(claim.a, claim.r, claim.n);
    return repo ? { repo, digest: claim.d } : undefined;
  }
}
