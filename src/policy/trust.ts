// The signature settings of a policy, compiled once per loaded policy: trust stores read
// from their PEM files, trusted identities parsed, and a key naming exactly these settings.
import { createHash } from 'node:crypto';
import type { SignatureCheckConfig } from './schema.ts';
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
  /** sha256 of every setting that can change a verdict (trust stores' types, names and
   *  certificate fingerprints in order, identities in order, revocation, multiArch, source):
   *  cached verdicts are keyed by it, never by a name a user picks, so two overrides share a
   *  verdict exactly when they would reach the same one. */
  readonly settingsKey: string;
}

function settingsKeyOf(trust: Omit<CompiledTrust, 'settingsKey' | 'describeIdentities'>): string {
  const canonical = JSON.stringify({
    trustStores: trust.trustStores.map((s) => ({ type: s.type, name: s.name, certificates: s.certificates.map((c) => c.fingerprint256) })),
    identities: trust.identities.map((i) => i.text),
    revocation: trust.revocation,
    multiArch: trust.multiArch,
    source: trust.source,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

// Policies are frozen objects replaced whole on reload, so their config objects key the cache.
const compiled = new WeakMap<SignatureCheckConfig, CompiledTrust>();

/** Throws (NotationError naming the file or identity) when the settings cannot be used. */
export function compileTrust(config: SignatureCheckConfig): CompiledTrust {
  let trust = compiled.get(config);
  if (!trust) {
    const settings = {
      trustStores: config.trustStores.map((s) => ({ ...loadTrustStore(s), ...(s.name !== undefined && { name: s.name }) })),
      identities: config.trustedIdentities.map(parseTrustedIdentity),
      revocation: config.revocation ?? 'enforce',
      multiArch: config.multiArch ?? 'indexOrChildren',
      source: config.source ?? 'ecr-api',
    } as const;
    trust = { ...settings, describeIdentities: config.trustedIdentities.join(', '), settingsKey: settingsKeyOf(settings) };
    compiled.set(config, trust);
  }
  return trust;
}
