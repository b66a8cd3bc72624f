// Holds the policy in force. A reloaded file that is bad is refused whole: the last good
// policy stays in force, and the failure is visible in logs, metrics and /readyz.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage } from '../support/errors.ts';
import { compilePolicy, type CompiledPolicy } from './compile.ts';
import { loadPolicyFile, parsePolicy, type LoadedPolicy } from './load.ts';
import type { Metrics } from '../support/metrics.ts';

export const DEFAULT_POLICY_TEXT = `# Built-in default: allow no registry until a policy file says which.
mode: enforce
onError: deny
`;

export interface PolicyStatus {
  readonly version: string;
  readonly source: string;
  readonly loadedAt: string;
  readonly lastReloadError?: string;
}

export interface PolicyStore {
  current(): CompiledPolicy;
  status(): PolicyStatus;
  /** Re-reads the file; returns true when a new policy took effect. */
  reload(): boolean;
  /** Polls the file for changes (ConfigMap volumes swap a symlink, so events are unreliable). */
  watch(intervalMs: number): () => void;
}

export function createPolicyStore(options: { path?: string; text?: string; ownNamespace?: string; logger?: Logger; metrics?: Metrics }): PolicyStore {
  const load = (): LoadedPolicy => (options.path ? loadPolicyFile(options.path) : parsePolicy(options.text ?? DEFAULT_POLICY_TEXT, '<built-in default>'));
  const compile = (loaded: LoadedPolicy) => compilePolicy(loaded, options.ownNamespace ? { ownNamespace: options.ownNamespace } : {});
  let compiled = compile(load()); // throws at start: the server refuses to start on a bad file
  let loadedAt = new Date().toISOString();
  let lastReloadError: string | undefined;
  let lastHash = options.path ? hashFile(options.path) : undefined;

  const store: PolicyStore = {
    current: () => compiled,
    status: () => ({ version: compiled.version, source: compiled.source, loadedAt, ...(lastReloadError !== undefined && { lastReloadError }) }),
    reload() {
      try {
        const next = compile(load());
        lastReloadError = undefined;
        if (next.version === compiled.version) return false;
        compiled = next;
        loadedAt = new Date().toISOString();
        options.metrics?.policyReloads.inc({ outcome: 'applied' });
        options.logger?.info({ policyVersion: next.version }, 'policy reloaded');
        return true;
      } catch (err) {
        lastReloadError = errorMessage(err);
        options.metrics?.policyReloads.inc({ outcome: 'refused' });
        options.logger?.error({ err: lastReloadError, policyVersion: compiled.version }, 'policy reload refused; the last good policy stays in force');
        return false;
      }
    },
    watch(intervalMs) {
      if (!options.path) return () => {};
      const path = options.path;
      const timer = setInterval(() => {
        const hash = hashFile(path);
        if (hash === lastHash) return;
        lastHash = hash;
        store.reload();
      }, intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
  return store;
}

function hashFile(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}
