// Compiles a loaded policy into matchers once per load, so the admission path only runs
// precompiled functions: no pattern parsing, no merging per request.
import type { LoadedPolicy } from './load.ts';
import type { ChecksConfig, EcrRegistryConfig, Mode, OnError, OciRegistryConfig, PolicyFile } from './schema.ts';
import type { ImageReference } from '../image/reference.ts';
import { anyOf, globMatcher, imageMatcher, type Matcher } from './glob.ts';

/** The policy that applies to one image in one namespace, after overrides. */
export interface EffectivePolicy {
  /** "default" or the name of the override that matched. */
  readonly name: string;
  readonly mode: Mode;
  readonly onError: OnError;
  readonly checks: ChecksConfig;
}

export interface CompiledPolicy {
  readonly version: string;
  readonly source: string;
  readonly file: PolicyFile;
  readonly ecrAccounts: ReadonlyMap<string, EcrRegistryConfig>;
  /** registries.oci by host. */
  readonly ociRegistries: ReadonlyMap<string, OciRegistryConfig>;
  readonly allowImage: Matcher;
  isNamespaceExcluded(namespace: string): boolean;
  forImage(namespace: string, image: ImageReference): EffectivePolicy;
  /** Human summary of the allowed registries, for the origin check's hint. */
  describeAllowedRegistries(): string;
}

interface CompiledOverride {
  readonly namespace: Matcher;
  readonly image: Matcher;
  readonly effective: EffectivePolicy;
}

function mergeChecks(base: ChecksConfig, override: ChecksConfig | undefined): ChecksConfig {
  // A check named in an override replaces the base check's settings whole: a partial merge
  // of trust settings would be too easy to misread.
  return override ? Object.freeze({ ...base, ...override }) : base;
}

function describeRegistries(file: PolicyFile): string {
  const parts = file.registries.ecr.map((r) => `ECR ${r.accountId}${r.regions ? ` (${r.regions.join(', ')})` : ''}`);
  if (file.registries.oci.length > 0) parts.push(`OCI ${file.registries.oci.map((r) => r.host).join(', ')}`);
  if (file.registries.allow.length > 0) parts.push(`non-ECR ${file.registries.allow.join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'none (the policy allows no registry)';
}

export function compilePolicy(loaded: LoadedPolicy, options: { ownNamespace?: string } = {}): CompiledPolicy {
  const file = loaded.policy;
  const base: EffectivePolicy = Object.freeze({ name: 'default', mode: file.mode, onError: file.onError, checks: file.checks });
  const overrides: CompiledOverride[] = file.overrides.map((o) => ({
    namespace: o.namespaces ? anyOf(o.namespaces.map(globMatcher)) : () => true,
    image: o.images ? anyOf(o.images.map(imageMatcher)) : () => true,
    effective: Object.freeze({
      name: o.name,
      mode: o.mode ?? file.mode,
      onError: o.onError ?? file.onError,
      checks: mergeChecks(file.checks, o.checks),
    }),
  }));
  const excluded = anyOf([...file.namespaces.exclude, ...(options.ownNamespace ? [options.ownNamespace] : [])].map(globMatcher));
  const ecrAccounts = new Map(file.registries.ecr.map((r) => [r.accountId, r]));
  const summary = describeRegistries(file);
  return Object.freeze({
    version: loaded.version,
    source: loaded.source,
    file,
    ecrAccounts,
    ociRegistries: new Map(file.registries.oci.map((r) => [r.host, r])),
    allowImage: anyOf(file.registries.allow.map(imageMatcher)),
    isNamespaceExcluded: excluded,
    forImage(namespace: string, image: ImageReference): EffectivePolicy {
      for (const o of overrides) {
        if (o.namespace(namespace) && o.image(image.normalized)) return o.effective;
      }
      return base;
    },
    describeAllowedRegistries: () => summary,
  });
}
