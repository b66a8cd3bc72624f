// The verdict on one digest's signatures: every signature found, verified. Cached per
// (policy version, effective policy, digest) for no longer than a revocation answer lives,
// so a revoked signer stops being admitted within the revocation TTL.
import type { FactCache, FactSpec } from '../cache/fact-cache.ts';
import type { CacheConfig } from '../config/schema.ts';
import type { SignatureListing } from '../facts/ecr-signatures.ts';
import type { SignerRevocation } from '../facts/signer.ts';
import { verifySignature, signerOf, type RejectionCode, type TargetDescriptor, type VerifiedSignature } from '../notation/index.ts';
import type { CompiledTrust } from './signature-trust.ts';

export interface RejectedEntry {
  readonly code: RejectionCode | 'UNREADABLE';
  readonly reason: string;
  readonly signer?: string;
  /** True when the rejection says something about the signature, not about AWS's availability. */
  readonly definitive: boolean;
}

export interface SignatureVerdict {
  readonly valid: VerifiedSignature[];
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
      if (v.valid.length > 0) return Math.min(digest, revocation) * 1000;
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
  const valid: VerifiedSignature[] = [];
  await Promise.all(listing.artifacts.map(async (a) => {
    let askedSigner = false;
    const result = await verifySignature(a.envelope, a.envelopeMediaType, target, {
      trustStores: trust.trustStores,
      trustedIdentities: trust.identities,
      revocation: trust.revocation,
      checkRevocation: (input, s) => {
        askedSigner = true;
        return deps.revocation.revoked(input, s ?? signal, budgetMs());
      },
      signal,
    });
    if (result.ok) valid.push(result);
    else {
      const signer = result.signer ?? signerOf(a.envelope, a.envelopeMediaType);
      // Cancelled once Signer was asked: the deadline struck while Signer had not answered.
      const reason = result.code === 'ABORTED' && askedSigner ? `${result.reason}: signer GetRevocationStatus did not answer within the admission deadline` : result.reason;
      rejected.push({ code: result.code, reason, ...(signer !== undefined && { signer }), definitive: !TRANSIENT.has(result.code) });
    }
  }));
  return { valid, rejected, truncated: listing.truncated };
}
