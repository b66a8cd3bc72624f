// Compiles a loaded policy once per load, so the admission path only reads precompiled values:
// no pattern parsing, no merging, no trust store reading per request. Nothing outside policy/
// reads the policy file itself.
import type { LoadedPolicy } from './load.ts';
import type {
  AwsConfig,
  CacheConfig,
  EventsConfig,
  ChecksConfig,
  EcrRegistryConfig,
  Mode,
  OnError,
  OciRegistryConfig,
  PinningConfig,
  PolicyFile,
} from './schema.ts';
import type { ImageReference } from '../image/reference.ts';
import { anyOf, globMatcher, imageMatcher, type Matcher } from './glob.ts';
import { compileExceptions, type VulnerabilityException } from './exceptions.ts';
import type { CompiledTrust } from './trust.ts';
import { cosignPaths } from './cosign.ts';

/** The policy that applies to one image in one namespace, after overrides. */
export interface EffectivePolicy {
  /** "default" or the name of the override that matched. */
  readonly name: string;
  readonly mode: Mode;
  readonly onError: OnError;
  readonly checks: ChecksConfig;
  /** checks.signature compiled at load (trust stores read, identities parsed, verdict key
   *  hashed); set whenever checks.signature is. */
  readonly trust?: CompiledTrust;
  /** checks.vulnerabilities.exceptions compiled at load; absent or empty: none. */
  readonly vulnerabilityExceptions?: readonly VulnerabilityException[];
}

export interface CompiledOverride {
  readonly namespace: Matcher;
  readonly image: Matcher;
  /** Its images are "*" or absent: it applies to every image of a matching namespace. */
  readonly everyImage: boolean;
  readonly effective: EffectivePolicy;
}

export interface CompiledPolicy {
  readonly version: string;
  readonly source: string;
  /** The policy with no override applied. */
  readonly base: EffectivePolicy;
  /** In file order: the first that matches wins. */
  readonly overrides: readonly CompiledOverride[];
  /** Read at start (wiring.ts): cache size and TTLs, AWS endpoints. */
  readonly cache: CacheConfig;
  readonly aws: AwsConfig;
  /** Digest pinning: what the mutating webhook rewrites, and whether validation requires it. */
  readonly pinning: PinningConfig;
  /** Read at start (wiring.ts): the SQS queue of AWS events, if any. */
  readonly events?: EventsConfig;
  readonly ecrAccounts: ReadonlyMap<string, EcrRegistryConfig>;
  /** registries.oci by host. */
  readonly ociRegistries: ReadonlyMap<string, OciRegistryConfig>;
  readonly allowImage: Matcher;
  /** Every trust store file or directory the policy names: a change to one is a reason to reload. */
  readonly trustStorePaths: readonly string[];
  isNamespaceExcluded(namespace: string): boolean;
  forImage(namespace: string, image: ImageReference): EffectivePolicy;
  /** Human summary of the allowed registries, for the origin check's hint. */
  describeAllowedRegistries(): string;
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

function effectivePolicy(name: string, mode: Mode, onError: OnError, checks: ChecksConfig, trust: CompiledTrust | undefined): EffectivePolicy {
  return Object.freeze({
    name,
    mode,
    onError,
    checks,
    ...(trust && { trust }),
    vulnerabilityExceptions: compileExceptions(checks.vulnerabilities),
  });
}

export function compilePolicy(loaded: LoadedPolicy, options: { ownNamespace?: string } = {}): CompiledPolicy {
  const file = loaded.policy;
  const base = effectivePolicy('default', file.mode, file.onError, file.checks, loaded.trust.base);
  const overrides: CompiledOverride[] = file.overrides.map((o, i) => {
    const checks = mergeChecks(file.checks, o.checks);
    // An override that names checks.signature has its own trust; otherwise it keeps the base's.
    const trust = o.checks?.signature ? loaded.trust.overrides[i] : loaded.trust.base;
    return Object.freeze({
      namespace: o.namespaces ? anyOf(o.namespaces.map(globMatcher)) : () => true,
      image: o.images ? anyOf(o.images.map(imageMatcher)) : () => true,
      everyImage: o.images === undefined || o.images.includes('*'),
      effective: effectivePolicy(o.name, o.mode ?? file.mode, o.onError ?? file.onError, checks, trust),
    });
  });
  const excluded = anyOf([...file.namespaces.exclude, ...(options.ownNamespace ? [options.ownNamespace] : [])].map(globMatcher));
  const summary = describeRegistries(file);
  return Object.freeze({
    version: loaded.version,
    source: loaded.source,
    base,
    overrides: Object.freeze(overrides),
    cache: file.cache,
    aws: file.aws,
    pinning: file.pinning,
    ...(file.events !== undefined && { events: file.events }),
    ecrAccounts: new Map(file.registries.ecr.map((r) => [r.accountId, r])),
    ociRegistries: new Map(file.registries.oci.map((r) => [r.host, r])),
    allowImage: anyOf(file.registries.allow.map(imageMatcher)),
    trustStorePaths: Object.freeze([
      ...new Set(
        [file.checks, ...file.overrides.map((o) => o.checks)].flatMap((c) => [
          ...(c?.signature?.trustStores?.map((s) => s.path) ?? []),
          ...cosignPaths(c?.signature?.cosign),
        ]),
      ),
    ]),
    isNamespaceExcluded: excluded,
    forImage(namespace: string, image: ImageReference): EffectivePolicy {
      for (const o of overrides) {
        if (o.namespace(namespace) && o.image(image.policyName)) return o.effective;
      }
      return base;
    },
    describeAllowedRegistries: () => summary,
  });
}
