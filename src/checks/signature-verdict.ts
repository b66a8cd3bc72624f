// The verdict on one digest's signatures: every signature found, verified. Cached per
// (policy version, effective policy, digest). An AWS Signer signature's verdict lives as long
// as a digest's facts (its certificates are judged at the signing time, which never changes),
// and its revocation is asked again, through its own cache entry, on every admission
// (withCurrentRevocation): when the revocation TTL passes, one GetRevocationStatus call
// refreshes it instead of the whole fetch-and-verify chain.
import type { FactCache, FactSpec } from '../cache/fact-cache.ts';
import type { CacheConfig } from '../config/schema.ts';
import type { SignatureListing } from '../facts/ecr-signatures.ts';
import type { SignerRevocation } from '../facts/signer.ts';
import { errorMessage } from '../errors.ts';
import { verifySignature, signerOf, type RejectionCode, type RevocationInput, type TargetDescriptor, type VerifiedSignature } from '../notation/index.ts';
import type { CompiledTrust } from './signature-trust.ts';

export interface RejectedEntry {
  readonly code: RejectionCode | 'UNREADABLE';
  readonly reason: string;
  readonly signer?: string;
  /** True when the rejection says something about the signature, not about AWS's availability. */
  readonly definitive: boolean;
}

/** A valid signature, with what its revocation status was asked with (AWS Signer only). */
export type ValidSignature = VerifiedSignature & { readonly revocationInput?: RevocationInput };

export interface SignatureVerdict {
  readonly valid: ValidSignature[];
  readonly rejected: RejectedEntry[];
  readonly truncated: boolean;
}

const TRANSIENT: ReadonlySet<string> = new Set(['REVOCATION_ERROR', 'ABORTED', 'INTERNAL']);

export interface VerdictDeps {
  readonly cache: FactCache;
  readonly revocation: SignerRevocation;
  readonly ttl: CacheConfig;
}

/** Lists the signatures of one digest, wherever they are stored. */
export type ListSignatures = (digest: string, signal: AbortSignal) => Promise<SignatureListing>;

export function verdictSpec(ttl: CacheConfig): FactSpec<SignatureVerdict> {
  const { digest, revocation, notFound } = ttl.ttlSeconds;
  return {
    fact: 'signature-verdict',
    ttlMs: (v) => {
      // Admitted in revocation warn mode while Signer could not answer: ask again soon.
      if (v.valid.length > 0 && v.valid.every((s) => s.revocation === 'unavailable')) return notFound * 1000;
      // notary.x509 certificates are judged valid "now": ask again within the revocation TTL.
      if (v.valid.some((s) => s.revocationInput === undefined)) return Math.min(digest, revocation) * 1000;
      if (v.valid.length > 0) return digest * 1000;
      // Nothing valid because AWS could not answer: ask again next time.
      if (v.rejected.some((r) => !r.definitive)) return 0;
      // Unsigned now, perhaps signed in a minute (ECR managed signing is asynchronous).
      return notFound * 1000;
    },
  };
}

export async function computeVerdict(deps: VerdictDeps, trust: CompiledTrust, list: ListSignatures, target: TargetDescriptor, signal: AbortSignal, budgetMs: () => number): Promise<SignatureVerdict> {
  const listing = await list(target.digest, signal);
  const rejected: RejectedEntry[] = listing.unreadable.map((u) => ({
    code: 'UNREADABLE', reason: `signature ${u.manifestDigest.slice(0, 19)} could not be read: ${u.error.message}`, definitive: u.error.definitive,
  }));
  const valid: ValidSignature[] = [];
  await Promise.all(listing.artifacts.map(async (a) => {
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
    });
    if (result.ok) valid.push(revocationInput ? { ...result, revocationInput } : result);
    else {
      const signer = result.signer ?? signerOf(a.envelope, a.envelopeMediaType);
      // Cancelled once Signer was asked: the deadline struck while Signer had not answered.
      const reason = result.code === 'ABORTED' && askedSigner ? `${result.reason}: signer GetRevocationStatus did not answer within the admission deadline` : result.reason;
      rejected.push({ code: result.code, reason, ...(signer !== undefined && { signer }), definitive: !TRANSIENT.has(result.code) });
    }
  }));
  return { valid, rejected, truncated: listing.truncated };
}

/**
 * The cached verdict with each AWS Signer signature's revocation asked again (a cache hit
 * until the revocation TTL passes). A signature revoked since the verdict was made is
 * rejected under `enforce`; under `warn` it passes with a warning, as at verification.
 */
export async function withCurrentRevocation(deps: VerdictDeps, trust: CompiledTrust, verdict: SignatureVerdict, signal: AbortSignal, budgetMs: number): Promise<SignatureVerdict> {
  if (trust.revocation === 'skip' || !verdict.valid.some((s) => s.revocation === 'checked' && s.revocationInput)) return verdict;
  const valid: ValidSignature[] = [];
  const rejected: RejectedEntry[] = [...verdict.rejected];
  await Promise.all(verdict.valid.map(async (s) => {
    if (s.revocation !== 'checked' || !s.revocationInput) {
      valid.push(s);
      return;
    }
    let problem: RejectedEntry | undefined;
    try {
      const revoked = await deps.revocation.revoked(s.revocationInput, signal, budgetMs);
      if (revoked.length > 0) problem = { code: 'REVOKED', reason: `signed by ${s.signer}, revoked: ${revoked.join(', ')}`, signer: s.signer, definitive: true };
    } catch (err) {
      problem = { code: 'REVOCATION_ERROR', reason: `revocation status unknown: ${errorMessage(err)}`, signer: s.signer, definitive: false };
    }
    if (!problem) valid.push(s);
    else if (trust.revocation === 'warn') valid.push({ ...s, warnings: [...s.warnings, problem.reason] });
    else rejected.push(problem);
  }));
  return { valid, rejected, truncated: verdict.truncated };
}
