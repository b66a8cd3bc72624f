// Holds the policy in force. A reloaded file that is bad is refused whole (a trust store that
// cannot be read as much as a bad key): the last good policy stays in force, and the failure is
// visible in logs, metrics and /readyz.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
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
  /** Polls the file and the trust stores of the policy in force for changes (ConfigMap and
   *  Secret volumes swap a symlink, so events are unreliable). */
  watch(intervalMs: number): () => void;
}

export function createPolicyStore(options: { path?: string; text?: string; ownNamespace?: string; logger?: Logger; metrics?: Metrics }): PolicyStore {
  const load = (): LoadedPolicy => (options.path ? loadPolicyFile(options.path) : parsePolicy(options.text ?? DEFAULT_POLICY_TEXT, '<built-in default>'));
  const compile = (loaded: LoadedPolicy) => compilePolicy(loaded, options.ownNamespace ? { ownNamespace: options.ownNamespace } : {});
  let compiled = compile(load()); // throws at start: the server refuses to start on a bad file
  let loadedAt = new Date().toISOString();
  let lastReloadError: string | undefined;
  const watched = () => (options.path ? [options.path, ...compiled.trustStorePaths] : []);
  let lastHash = fingerprint(watched());

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
      const timer = setInterval(() => {
        const hash = fingerprint(watched());
        if (hash === lastHash) return;
        // Taken before the reload, so a change made while it reads is seen at the next tick.
        // (A reload that names other trust stores costs one more reload, of the same version.)
        lastHash = hash;
        store.reload();
      }, intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
  return store;
}

/** A hash of the files' contents; a directory (a trust store may be one) by its entries'
 *  names and contents. A file that cannot be read hashes as such: its coming back is a change. */
function fingerprint(paths: readonly string[]): string {
  const hash = createHash('sha256');
  const add = (path: string) => {
    try {
      hash.update(readFileSync(path));
    } catch {
      hash.update('\0unreadable');
    }
  };
  for (const path of paths) {
    hash.update(`\0${path}\0`);
    try {
      if (statSync(path).isDirectory()) {
        for (const name of readdirSync(path).sort()) {
          hash.update(`\0${name}\0`);
          add(join(path, name));
        }
      } else add(path);
    } catch {
      hash.update('\0missing');
    }
  }
  return hash.digest('hex');
}
