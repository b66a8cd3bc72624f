// The signature settings of a policy, compiled once per loaded policy: trust stores read
// from their PEM files, trusted identities parsed.
import type { SignatureCheckConfig } from '../config/schema.ts';
import { loadTrustStore, parseTrustedIdentity, type RevocationMode, type TrustedIdentity, type TrustStore } from '../notation/index.ts';

export interface CompiledTrust {
  readonly trustStores: TrustStore[];
  readonly identities: TrustedIdentity[];
  readonly revocation: RevocationMode;
  readonly multiArch: 'indexOrChildren' | 'allChildren';
  /** Where ECR images' signatures are read: the ECR API or the registry's referrers API. */
  readonly source: 'ecr-api' | 'registry';
  /** "arn:...:/signing-profiles/release, x509.subject: ..." for hints. */
  readonly describeIdentities: string;
}

// Policies are frozen objects replaced whole on reload, so their config objects key the cache.
const compiled = new WeakMap<SignatureCheckConfig, CompiledTrust>();

/** Throws (NotationError naming the file or identity) when the settings cannot be used. */
export function compileTrust(config: SignatureCheckConfig): CompiledTrust {
  let trust = compiled.get(config);
  if (!trust) {
    trust = {
      trustStores: config.trustStores.map((s) => ({ ...loadTrustStore(s), ...(s.name !== undefined && { name: s.name }) })),
      identities: config.trustedIdentities.map(parseTrustedIdentity),
      revocation: config.revocation ?? 'enforce',
      multiArch: config.multiArch ?? 'indexOrChildren',
      source: config.source ?? 'ecr-api',
      describeIdentities: config.trustedIdentities.join(', '),
    };
    compiled.set(config, trust);
  }
  return trust;
}
