// The cosign half of the signature verdict (issue 19): every cosign signature found on a digest,
// against the policy's cosign authorities. A KMS authority's key is fetched first (once, cached:
// facts/kms/public-keys.ts); if KMS cannot answer, a signature no other authority accepts may
// still be that key's, so its rejection is left undecided (onError) instead of denied.
import type { CompiledCosign } from '../policy/cosign.ts';
import { MAX_SIMPLE_SIGNING_LAYERS, type CosignListing } from '../facts/cosign-manifests.ts';
import type { EnvelopeBudget } from '../facts/signature-budget.ts';
import type { KmsPublicKeys } from '../facts/kms/public-keys.ts';
import { verifyCosign, type Authority, type CosignArtifact } from '../cosign/index.ts';
import { ErrorCodes, errorMessage } from '../support/errors.ts';
import type { RejectedEntry, SignatureVerdict, ValidSignature } from './signature-verdict.ts';

/** Lists the cosign signatures of one digest, wherever they are stored, within the image check's budget. */
export type ListCosignSignatures = (digest: string, signal: AbortSignal, budget: EnvelopeBudget) => Promise<CosignListing>;

export interface CosignVerdictDeps {
  readonly kms: KmsPublicKeys;
}

function describeArtifact(a: CosignArtifact): string {
  return `cosign ${a.form === 'bundle' ? 'bundle' : 'signature'} ${a.manifestDigest.slice(0, 19)}`;
}

/** Authorities ready to verify with, and the KMS ones whose key could not be read. */
async function resolveAuthorities(
  deps: CosignVerdictDeps,
  cosign: CompiledCosign,
  signal: AbortSignal,
  budgetMs: () => number,
): Promise<{ ready: Authority[]; unavailable: string[] }> {
  const unavailable: string[] = [];
  const ready = await Promise.all(
    cosign.authorities.map(async (a): Promise<Authority | undefined> => {
      if (a.kind !== 'kms') return a;
      try {
        const { key, kind } = await deps.kms.get(a.arn, a.region, signal, budgetMs());
        return { kind: 'key', name: a.name, key, describe: `kms ${a.arn} (${kind})` };
      } catch (err) {
        unavailable.push(`${a.name}: KMS GetPublicKey failed (${errorMessage(err).slice(0, 200)})`);
        return undefined;
      }
    }),
  );
  return { ready: ready.filter((a): a is Authority => a !== undefined), unavailable };
}

export async function computeCosignVerdict(
  deps: CosignVerdictDeps,
  cosign: CompiledCosign,
  list: ListCosignSignatures,
  digest: string,
  signal: AbortSignal,
  budgetMs: () => number,
  budget: EnvelopeBudget,
): Promise<SignatureVerdict> {
  const listing = await list(digest, signal, budget);
  const rejected: RejectedEntry[] = listing.unreadable.map((u) => ({
    code: ErrorCodes.UNREADABLE,
    reason: `cosign signature ${u.manifestDigest.slice(0, 19)} could not be read: ${u.error.message}`,
    definitive: u.error.definitive,
  }));
  // The .sig tag's layers past the cap: named, so a denial never reads as if all were examined.
  if (listing.skippedLayers > 0)
    rejected.push({
      code: ErrorCodes.UNREADABLE,
      reason: `signature tag ${(listing.tag ?? '').slice(0, 19)}….sig: ${listing.skippedLayers} more layers not examined (at most ${MAX_SIMPLE_SIGNING_LAYERS})`,
      definitive: true,
    });
  const valid: ValidSignature[] = [];
  if (listing.artifacts.length === 0) return { valid, rejected, truncated: listing.truncated, overBudget: listing.overBudget };
  const { ready, unavailable } = await resolveAuthorities(deps, cosign, signal, budgetMs);
  for (const artifact of listing.artifacts) {
    const result = verifyCosign(artifact, digest, ready, cosign.trustMaterial ? { trustMaterial: cosign.trustMaterial } : {});
    if (result.ok) {
      valid.push({
        format: 'cosign',
        signer: `${result.signer} [cosign authority ${result.authority}${result.reference !== undefined ? `, docker-reference ${result.reference}` : ''}]`,
        warnings: [],
        revocation: 'not-applicable',
        ...(result.reference !== undefined && { reference: result.reference }),
      });
      continue;
    }
    const tried = [...result.tried.map((f) => `${f.authority}: ${f.reason}`), ...unavailable];
    rejected.push({
      code: result.code,
      reason: `${describeArtifact(artifact)}: ${result.reason}${tried.length > 0 ? ` (tried ${tried.join('; ')})` : ''}`,
      // Signed, perhaps, by the KMS key that could not be read: AWS's fault, for onError. A
      // signature whose shape or payload is wrong is refused whoever signed it.
      definitive: unavailable.length === 0 || result.code === ErrorCodes.PARSE || result.code === ErrorCodes.TARGET_MISMATCH,
    });
  }
  return { valid, rejected, truncated: listing.truncated, overBudget: listing.overBudget };
}

/** Both formats' verdicts as one: valid and rejected together, bounds summed. */
export function mergeVerdicts(verdicts: ReadonlyArray<SignatureVerdict | undefined>): SignatureVerdict {
  const present = verdicts.filter((v): v is SignatureVerdict => v !== undefined);
  return {
    valid: present.flatMap((v) => v.valid),
    rejected: present.flatMap((v) => v.rejected),
    truncated: present.some((v) => v.truncated),
    overBudget: present.reduce((n, v) => n + v.overBudget, 0),
  };
}
