// The signature settings of a policy, compiled once per load: trust stores read from their PEM
// files, trusted identities parsed, and a key naming exactly these settings. It runs while the
// policy is validated (semantics.ts), so a store that cannot be read refuses the policy (or
// the reload) with its key and line, and admissions only ever read the result.
import { createHash } from 'node:crypto';
import type { SignatureCheckConfig, SignatureFormat } from './schema.ts';
import { compileCosign, type CompiledCosign } from './cosign.ts';
import { errorMessage } from '../support/errors.ts';
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
   *  verdict exactly when they would reach the same one. Computed here, once per load. */
  readonly settingsKey: string;
  /** Which formats may satisfy the check (issue 19): notation, cosign, or either. */
  readonly formats: readonly SignatureFormat[];
  /** checks.signature.cosign compiled (policy/cosign.ts), when cosign is among the formats. */
  readonly cosign?: CompiledCosign;
}

/** checks.signature compiled for the base policy and for each override that sets its own
 *  (undefined where an override does not: it inherits the base policy's). */
export interface PolicyTrust {
  readonly base?: CompiledTrust;
  readonly overrides: ReadonlyArray<CompiledTrust | undefined>;
}

/** A problem of one signature setting; `at` is the key path below checks.signature. */
export interface TrustProblem {
  readonly at: Array<string | number>;
  readonly message: string;
}

function settingsKeyOf(trust: Omit<CompiledTrust, 'settingsKey' | 'describeIdentities'>): string {
  const canonical = JSON.stringify({
    ...(trust.formats.includes('cosign') && { formats: trust.formats, cosign: trust.cosign?.canonical }),
    trustStores: trust.trustStores.map((s) => ({ type: s.type, name: s.name, certificates: s.certificates.map((c) => c.fingerprint256) })),
    identities: trust.identities.map((i) => i.text),
    revocation: trust.revocation,
    multiArch: trust.multiArch,
    source: trust.source,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/** Reads every trust store and parses every identity once; the trust only when all of them could be used. */
export function compileTrust(config: SignatureCheckConfig): { trust?: CompiledTrust; problems: TrustProblem[] } {
  const problems: TrustProblem[] = [];
  const identities: TrustedIdentity[] = [];
  // Formats: as listed, or those the block configures (notation with trust stores, cosign with
  // a cosign block); each listed format must be configured (issue 19).
  const formats: SignatureFormat[] = config.formats
    ? [...config.formats]
    : [...(config.trustStores || config.trustedIdentities ? (['notation'] as const) : []), ...(config.cosign ? (['cosign'] as const) : [])];
  if (formats.length === 0) problems.push({ at: [], message: 'checks.signature needs trustStores and trustedIdentities (Notation), or cosign' });
  if (formats.includes('notation')) {
    if (!config.trustStores) problems.push({ at: ['trustStores'], message: 'required when formats includes notation' });
    if (!config.trustedIdentities) problems.push({ at: ['trustedIdentities'], message: 'required when formats includes notation' });
  }
  if (formats.includes('cosign') && !config.cosign) problems.push({ at: ['cosign'], message: 'required when formats includes cosign' });
  const cosign = config.cosign && formats.includes('cosign') ? compileCosign(config.cosign) : undefined;
  for (const p of cosign?.problems ?? []) problems.push({ at: ['cosign', ...p.at], message: p.message });
  (config.trustedIdentities ?? []).forEach((id, i) => {
    try {
      identities.push(parseTrustedIdentity(id));
    } catch (err) {
      problems.push({
        at: ['trustedIdentities', i],
        message: `${errorMessage(err)} (use "*", "x509.subject: <DN>", or an AWS Signer signing-profile or profile-version ARN)`,
      });
    }
  });
  const trustStores: TrustStore[] = [];
  (config.trustStores ?? []).forEach((spec, i) => {
    try {
      trustStores.push({ ...loadTrustStore(spec), ...(spec.name !== undefined && { name: spec.name }) });
    } catch (err) {
      problems.push({ at: ['trustStores', i, 'path'], message: errorMessage(err) });
    }
  });
  if (problems.length > 0) return { problems };
  const settings = {
    trustStores,
    identities,
    revocation: config.revocation ?? 'enforce',
    multiArch: config.multiArch ?? 'indexOrChildren',
    source: config.source ?? 'ecr-api',
    formats,
    ...(cosign?.cosign && { cosign: cosign.cosign }),
  } as const;
  const trust: CompiledTrust = Object.freeze({
    ...settings,
    describeIdentities: (config.trustedIdentities ?? []).join(', '),
    settingsKey: settingsKeyOf(settings),
  });
  return { trust, problems };
}
