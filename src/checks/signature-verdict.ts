// The verdict on one digest's signatures: every signature found, verified. Cached per
// (effective signature settings, place, digest). An AWS Signer signature's verdict lives as
// long as a digest's facts (its certificates are judged at the signing time, which never
// changes), and its revocation is asked again, through its own cache entry, on every admission
// (withCurrentRevocation): when the revocation TTL passes, one GetRevocationStatus call
// refreshes it instead of the whole fetch-and-verify chain. No verdict outlives the moment
// its valid signatures stop verifying (validUntil).
import { X509Certificate } from 'node:crypto';
import type { FactCache, FactSpec } from '../support/fact-cache.ts';
import type { CacheConfig } from '../policy/schema.ts';
import type { SignatureListing } from '../facts/ecr/signatures.ts';
import type { EnvelopeBudget } from '../facts/signature-budget.ts';
import type { SignerRevocation } from '../facts/signer/revocation.ts';
import { ErrorCodes, errorMessage } from '../support/errors.ts';
import {
  SIGNING_SCHEME_X509,
  verifySignature,
  signerOf,
  type RejectionCode,
  type RevocationInput,
  type TargetDescriptor,
  type VerifiedSignature,
} from '../notation/index.ts';
import { parseEnvelope } from '../notation/verify.ts';
import type { CompiledTrust } from '../policy/trust.ts';

export interface RejectedEntry {
  readonly code: RejectionCode | typeof ErrorCodes.UNREADABLE;
  readonly reason: string;
  readonly signer?: string;
  /** True when the rejection says something about the signature (or the referrer the
   *  requester pushed), not about AWS's or the registry's availability. */
  readonly definitive: boolean;
}

/** A valid signature, with what its revocation status was asked with (AWS Signer only), and
 *  the moment it stops verifying (its expiry; for notary.x509, whose chain is judged at
 *  verification time, also the earliest notAfter of its chain), in ms since the epoch. */
export type ValidSignature = (VerifiedSignature | CosignVerified) & { readonly revocationInput?: RevocationInput; readonly validUntil?: number };

/** A cosign signature one of the policy's authorities accepted (checks/cosign-verdict.ts). */
export interface CosignVerified {
  readonly format: 'cosign';
  readonly signer: string;
  readonly warnings: string[];
  readonly revocation: 'not-applicable';
  /** The payload's docker-reference, reported. */
  readonly reference?: string;
}

export interface SignatureVerdict {
  readonly valid: ValidSignature[];
  readonly rejected: RejectedEntry[];
  /** More signature referrers were listed than are examined. */
  readonly truncated: boolean;
  /** Signature referrers not read because the image check's envelope budget was spent. */
  readonly overBudget: number;
}

// Verification that could not finish for a reason outside the envelope: Signer did not answer,
// or the deadline struck. An INTERNAL error is the verifier failing on bytes the requester
// supplied: definitive (fail closed), never an undecided verdict for onError.
const TRANSIENT: ReadonlySet<string> = new Set([ErrorCodes.REVOCATION_ERROR, ErrorCodes.ABORTED]);

export interface VerdictDeps {
  readonly cache: FactCache;
  readonly revocation: SignerRevocation;
  readonly ttl: CacheConfig;
  /** The clock verdicts are judged and expire by (the fact cache's own); default Date.now. */
  readonly now?: () => number;
}

/** Lists the signatures of one digest, wherever they are stored, within the image check's budget. */
export type ListSignatures = (digest: string, signal: AbortSignal, budget: EnvelopeBudget) => Promise<SignatureListing>;

export function verdictSpec(ttl: CacheConfig, now: () => number = Date.now): FactSpec<SignatureVerdict> {
  const { digest, revocation, notFound } = ttl.ttlSeconds;
  const byKind = (v: SignatureVerdict): number => {
    // Admitted in revocation warn mode while Signer could not answer: ask again soon.
    if (v.valid.length > 0 && v.valid.every((s) => s.revocation === 'unavailable')) return notFound * 1000;
    // notary.x509 certificates are judged valid "now": ask again within the revocation TTL.
    if (v.valid.some((s) => s.revocationInput === undefined)) return Math.min(digest, revocation) * 1000;
    if (v.valid.length > 0) return digest * 1000;
    // Nothing valid because AWS could not answer: ask again next time.
    if (v.rejected.some((r) => !r.definitive)) return 0;
    // Unsigned now, perhaps signed in a minute (ECR managed signing is asynchronous).
    return notFound * 1000;
  };
  return {
    fact: 'signature-verdict',
    ttlMs: (v) => {
      // A verdict that admits lives no longer than the last of its valid signatures verifies.
      const until = v.valid.length > 0 && v.valid.every((s) => s.validUntil !== undefined) ? Math.max(...v.valid.map((s) => s.validUntil!)) : undefined;
      const ttlMs = byKind(v);
      return until === undefined ? ttlMs : Math.max(0, Math.min(ttlMs, until - now()));
    },
  };
}

/** When a valid signature stops verifying: its expiry, and for notary.x509 (chain judged at
 *  verification time) the earliest notAfter of the chain the envelope carries. A signing
 *  authority's chain is judged at the authentic signing time, which never changes. */
function validUntil(result: VerifiedSignature, envelope: Uint8Array, mediaType: string): number | undefined {
  const limits: number[] = result.expiry ? [result.expiry.getTime()] : [];
  if (result.signingScheme === SIGNING_SCHEME_X509) {
    const parsed = parseEnvelope(envelope, mediaType);
    if (parsed.ok) for (const der of parsed.value.certificates) limits.push(new X509Certificate(der).validToDate.getTime());
  }
  return limits.length > 0 ? Math.min(...limits) : undefined;
}

export async function computeVerdict(
  deps: VerdictDeps,
  trust: CompiledTrust,
  list: ListSignatures,
  target: TargetDescriptor,
  signal: AbortSignal,
  budgetMs: () => number,
  budget: EnvelopeBudget,
): Promise<SignatureVerdict> {
  const listing = await list(target.digest, signal, budget);
  const rejected: RejectedEntry[] = listing.unreadable.map((u) => ({
    code: ErrorCodes.UNREADABLE,
    reason: `signature ${u.manifestDigest.slice(0, 19)} could not be read: ${u.error.message}`,
    definitive: u.error.definitive,
  }));
  const valid: ValidSignature[] = [];
  await Promise.all(
    listing.artifacts.map(async (a) => {
      let askedSigner = false;
      let revocationInput: RevocationInput | undefined;
      const result = await verifySignature(a.envelope, a.envelopeMediaType, target, {
        trustStores: trust.trustStores,
        trustedIdentities: trust.identities,
        revocation: trust.revocation,
        checkRevocation: (input, s) => {
          askedSigner = true;
          revocationInput = input;
          return deps.revocation.revoked(input, s ?? signal, budgetMs());
        },
        signal,
        ...(deps.now && { now: new Date(deps.now()) }),
      });
      if (result.ok) {
        const until = validUntil(result, a.envelope, a.envelopeMediaType);
        valid.push({ ...result, ...(revocationInput && { revocationInput }), ...(until !== undefined && { validUntil: until }) });
      } else {
        const signer = result.signer ?? signerOf(a.envelope, a.envelopeMediaType);
        // Cancelled once Signer was asked: the deadline struck while Signer had not answered.
        const reason =
          result.code === ErrorCodes.ABORTED && askedSigner
            ? `${result.reason}: signer GetRevocationStatus did not answer within the admission deadline`
            : result.reason;
        rejected.push({ code: result.code, reason, ...(signer !== undefined && { signer }), definitive: !TRANSIENT.has(result.code) });
      }
    }),
  );
  return { valid, rejected, truncated: listing.truncated, overBudget: listing.overBudget };
}

/**
 * The cached verdict with each AWS Signer signature's revocation asked again (a cache hit
 * until the revocation TTL passes). A signature revoked since the verdict was made is
 * rejected under `enforce`; under `warn` it passes with a warning, as at verification.
 */
export async function withCurrentRevocation(
  deps: VerdictDeps,
  trust: CompiledTrust,
  verdict: SignatureVerdict,
  signal: AbortSignal,
  budgetMs: number,
): Promise<SignatureVerdict> {
  if (trust.revocation === 'skip' || !verdict.valid.some((s) => s.revocation === 'checked' && s.revocationInput)) return verdict;
  const valid: ValidSignature[] = [];
  const rejected: RejectedEntry[] = [...verdict.rejected];
  await Promise.all(
    verdict.valid.map(async (s) => {
      if (s.revocation !== 'checked' || !s.revocationInput) {
        valid.push(s);
        return;
      }
      let problem: RejectedEntry | undefined;
      try {
        const revoked = await deps.revocation.revoked(s.revocationInput, signal, budgetMs);
        if (revoked.length > 0)
          problem = { code: ErrorCodes.REVOKED, reason: `signed by ${s.signer}, revoked: ${revoked.join(', ')}`, signer: s.signer, definitive: true };
      } catch (err) {
        problem = { code: ErrorCodes.REVOCATION_ERROR, reason: `revocation status unknown: ${errorMessage(err)}`, signer: s.signer, definitive: false };
      }
      if (!problem) valid.push(s);
      else if (trust.revocation === 'warn') valid.push({ ...s, warnings: [...s.warnings, problem.reason] });
      else rejected.push(problem);
    }),
  );
  return { ...verdict, valid, rejected };
}
