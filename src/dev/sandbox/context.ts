// What a protocol handler is given: the current compiled state and the runtime services
// that are not part of the fixture (issued registry passwords, pre-signed layer URLs).
import type { SandboxState, StoredRepository } from './store.ts';

export interface Runtime {
  readonly baseUrl: string;
  state(): SandboxState;
  now(): Date;
  issueRegistryPassword(): { password: string; expiresAt: Date };
  registryPasswordValid(password: string): boolean;
  issueLayerUrl(repo: StoredRepository, digest: string): string;
  resolveLayerUrl(token: string): { repo: StoredRepository; digest: string } | 'expired' | undefined;
}
