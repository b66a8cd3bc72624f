// signature: is there a valid Notation signature on this digest from a trusted identity, not
// revoked? Signatures are found through ECR (ListImageReferrers) and verified natively.
import type { FactCache } from '../support/fact-cache.ts';
import type { CacheConfig } from '../policy/schema.ts';
import { shortDigest } from '../image/digest.ts';
import type { EcrSignatureSource } from '../facts/ecr/signatures.ts';
import type { PlatformManifest } from '../facts/ports.ts';
import { ENVELOPE_BUDGET_BYTES, EnvelopeBudget, MAX_REFERRER_READS, MAX_REFERRERS } from '../facts/signature-budget.ts';
import type { OciFacts } from '../facts/oci/facts.ts';
import { ociFactFailure } from './oci-messages.ts';
import type { SignerRevocation } from '../facts/signer/revocation.ts';
import { ErrorCodes } from '../support/errors.ts';
import { factFailure, remainingMs } from './ecr-messages.ts';
import type { CompiledTrust } from '../policy/trust.ts';
import { computeVerdict, verdictSpec, withCurrentRevocation, type ListSignatures, type SignatureVerdict } from './signature-verdict.ts';
import { error, fail, pass, type Check, type CheckContext, type CheckOutcome, type ManifestDescriptor } from './types.ts';
import type { EcrCosignSource } from '../facts/ecr/cosign-signatures.ts';
import type { KmsPublicKeys } from '../facts/kms/public-keys.ts';
import { computeCosignVerdict, mergeVerdicts, type ListCosignSignatures } from './cosign-verdict.ts';

export interface SignatureCheckDeps {
  readonly cache: FactCache;
  readonly source: EcrSignatureSource;
  readonly oci: OciFacts;
  readonly revocation: SignerRevocation;
  readonly ttl: CacheConfig;
  /** The fact cache's clock, for verdict expiry and verification time; default Date.now. */
  readonly now?: () => number;
  /** cosign signatures (issue 19): through the ECR API, and KMS authorities' keys. Without
   *  them a policy's cosign authorities find nothing (the check then denies, never admits). */
  readonly cosign?: { readonly ecr: EcrCosignSource; readonly kms: KmsPublicKeys };
}

const MAX_LISTED = 3;
/** Platform children whose signatures are read at once: the first definitive denial stops
 *  the rest, so junk on many children costs little beyond the shared budget. */
const CHILD_CONCURRENCY = 8;

/** What was not examined, so a denial never reads as if every referrer had been. */
function notExamined(verdict: SignatureVerdict): string {
  const parts: string[] = [];
  if (verdict.truncated) parts.push(`more than ${MAX_REFERRERS} signature referrers: only ${MAX_REFERRERS} examined`);
  if (verdict.overBudget > 0)
    parts.push(
      `${verdict.overBudget} not read: the budget of one image check (${MAX_REFERRER_READS} signature manifests, ${ENVELOPE_BUDGET_BYTES / 1048576} MiB of envelopes) was spent`,
    );
  return parts.join('; ');
}

function describeRejections(verdict: SignatureVerdict): string {
  const n = verdict.rejected.length;
  const shown = verdict.rejected.slice(0, MAX_LISTED).map((r) => (r.signer && !r.reason.includes(r.signer) ? `signed by ${r.signer}: ${r.reason}` : r.reason));
  const more = n > MAX_LISTED ? `; and ${n - MAX_LISTED} more` : '';
  const skipped = notExamined(verdict);
  return `${n} signature${n === 1 ? '' : 's'} checked: ${shown.join('; ')}${more}${skipped ? `; ${skipped}` : ''}`;
}

function signHint(trust: CompiledTrust): string {
  const notation = `Sign the image with a trusted identity (${trust.describeIdentities}), e.g. notation sign --plugin com.amazonaws.signer.notation.plugin --id <signing profile ARN>, or enable ECR managed signing.`;
  if (!trust.cosign) return notation;
  const cosign = `Sign it with cosign for authority ${trust.cosign.authorities[0]!.name}: ${trust.cosign.signHint}.`;
  return trust.formats.includes('notation') ? `${notation} Or: ${cosign}` : cosign;
}

/** "Notation", "cosign", "Notation or cosign": the formats this policy accepts. */
function formatNames(trust: CompiledTrust): string {
  return trust.formats.map((f) => (f === 'notation' ? 'Notation' : 'cosign')).join(' or ');
}

export function signatureCheck(deps: SignatureCheckDeps): Check {
  const spec = verdictSpec(deps.ttl, deps.now);

  /** Where this image's signatures are stored, and a cache key naming that place. */
  function sourceOf(ctx: CheckContext, trust: CompiledTrust): { place: string; list: ListSignatures; cosign: ListCosignSignatures } {
    const { ecr, oci } = ctx.image;
    if (oci)
      return {
        place: `oci/${oci.host}/${oci.repository}`,
        list: (digest, signal, budget) => deps.oci.signatures(oci, digest, signal, budget),
        cosign: (digest, signal, budget) => deps.oci.cosignSignatures(oci, digest, signal, budget),
      };
    const loc = ecr!;
    const place = `${trust.source}/${loc.accountId}/${loc.region}/${loc.repository}`;
    if (trust.source === 'registry')
      return {
        place,
        list: (digest, signal, budget) => deps.oci.ecrSignatures(loc, digest, signal, budget),
        cosign: (digest, signal, budget) => deps.oci.ecrCosignSignatures(loc, digest, signal, budget),
      };
    const ecrCosign = deps.cosign?.ecr;
    const cosign: ListCosignSignatures = ecrCosign
      ? (digest, signal, budget) => ecrCosign.list(loc, digest, signal, budget)
      : () => Promise.resolve({ artifacts: [], unreadable: [], truncated: false, overBudget: 0, skippedLayers: 0 });
    return { place, list: (digest, signal, budget) => deps.source.list(loc, digest, signal, budget), cosign };
  }

  /** The verdict over every format the policy accepts, their listings sharing the budget. */
  async function computeAll(
    ctx: CheckContext,
    trust: CompiledTrust,
    target: ManifestDescriptor,
    signal: AbortSignal,
    budget: EnvelopeBudget,
  ): Promise<SignatureVerdict> {
    const { list, cosign } = sourceOf(ctx, trust);
    const budgetMs = () => remainingMs(ctx.deadline);
    const [notation, cosignVerdict] = await Promise.all([
      trust.formats.includes('notation') ? computeVerdict(deps, trust, list, target, signal, budgetMs, budget) : undefined,
      trust.cosign && deps.cosign ? computeCosignVerdict(deps.cosign, trust.cosign, cosign, target.digest, signal, budgetMs, budget) : undefined,
    ]);
    return cosignVerdict ? mergeVerdicts([notation, cosignVerdict]) : notation!;
  }

  /** Keyed by the effective settings' hash (policy/trust.ts, computed at load), never by the override's name:
   *  an override named like the base policy cannot reuse its verdicts, and a policy reload that
   *  keeps the settings (and the trust stores' certificates) keeps the verdicts. */
  async function verdictFor(
    ctx: CheckContext,
    trust: CompiledTrust,
    target: ManifestDescriptor,
    budget: EnvelopeBudget,
    stop?: AbortSignal,
  ): Promise<SignatureVerdict> {
    const { place } = sourceOf(ctx, trust);
    const key = `${trust.settingsKey}/${place}@${target.digest}`;
    const verdict = await deps.cache.get(
      spec,
      key,
      // `stop` also ends the load once the check is decided: a cancelled load's verdict is
      // undecided (TTL 0), so nothing cancelled is remembered.
      (signal) => computeAll(ctx, trust, target, stop ? AbortSignal.any([signal, stop]) : signal, budget),
      stop ? AbortSignal.any([ctx.signal, stop]) : ctx.signal,
      remainingMs(ctx.deadline),
    );
    return withCurrentRevocation(deps, trust, verdict, ctx.signal, remainingMs(ctx.deadline));
  }

  async function explainUnsigned(ctx: CheckContext, trust: CompiledTrust, digest: string): Promise<string> {
    // ECR managed signing's own status explains an unsigned ECR image; it never decides.
    const managed = ctx.image.ecr ? await deps.source.managedSigningStatus(ctx.image.ecr, digest, ctx.signal) : undefined;
    return `no ${formatNames(trust)} signature found on ${shortDigest(digest)}${managed ? ` (${managed})` : ''}`;
  }

  async function judge(ctx: CheckContext, trust: CompiledTrust, verdict: SignatureVerdict, digest: string, label: string): Promise<CheckOutcome | undefined> {
    if (verdict.valid.length > 0) return undefined;
    if (verdict.rejected.some((r) => !r.definitive)) {
      return error(
        'signature',
        `${label}signatures could not all be checked (${describeRejections(verdict)})`,
        'Retry; the webhook logs name the AWS call that failed.',
      );
    }
    if (verdict.rejected.length === 0 && verdict.overBudget > 0)
      return fail('signature', `${label}no signature could be examined (${notExamined(verdict)})`, signHint(trust));
    if (verdict.rejected.length === 0) return fail('signature', `${label}${await explainUnsigned(ctx, trust, digest)}`, signHint(trust));
    const revoked = verdict.rejected.find((r) => r.code === ErrorCodes.REVOKED);
    const headline = revoked ? 'the signature was revoked' : 'no valid signature from a trusted identity';
    return fail('signature', `${label}${headline} (${describeRejections(verdict)})`, signHint(trust));
  }

  /**
   * Every child must carry a valid signature. Children are judged as they finish, a few at a
   * time: the first definitive denial (a fail) decides the check at once and cancels the rest,
   * so a flood of junk on many children cannot hold the admission until its deadline. A child
   * left undecided (AWS could not answer) is reported only when no child is denied outright.
   */
  async function judgeChildren(ctx: CheckContext, trust: CompiledTrust, children: readonly PlatformManifest[], budget: EnvelopeBudget): Promise<CheckOutcome> {
    const stop = new AbortController();
    const verdicts = new Array<SignatureVerdict>(children.length);
    const undecided: CheckOutcome[] = [];
    const thrown: unknown[] = [];
    let denied: CheckOutcome | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!denied && next < children.length) {
        const i = next++;
        const child = children[i]!;
        let verdict: SignatureVerdict;
        try {
          verdict = await verdictFor(ctx, trust, child, budget, stop.signal);
        } catch (err) {
          // Cancelled because another child already decided; or AWS failed this one: kept for
          // the end, since another child may still be denied outright.
          if (!denied) thrown[i] = err;
          continue;
        }
        if (denied) return;
        verdicts[i] = verdict;
        const problem = await judge(ctx, trust, verdict, child.digest, `platform ${child.platform} (${shortDigest(child.digest)}): `);
        if (problem?.status === 'fail') {
          denied ??= problem;
          stop.abort();
        } else if (problem) undecided[i] = problem;
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(CHILD_CONCURRENCY, children.length) }, worker));
    } finally {
      stop.abort();
    }
    if (denied) return denied;
    const first = children.findIndex((_, i) => undecided[i] !== undefined || i in thrown);
    if (first >= 0) {
      if (undecided[first]) return undecided[first];
      throw thrown[first];
    }
    const signer = (v: SignatureVerdict) => v.valid.map((s) => s.signer).join(', ');
    return pass('signature', {
      reason: `every platform signed (${[...new Set(verdicts.map(signer))].join('; ')})`,
      warnings: verdicts.flatMap((v) => v.valid.flatMap((s) => s.warnings)),
    });
  }

  return {
    id: 'signature',
    needs: ['digest'],
    enabled: (policy, image) => policy.checks.signature !== undefined && (image.managed || image.oci !== undefined),
    async run(ctx) {
      const resolved = ctx.image.resolved!;
      // Compiled when the policy was loaded: a trust store that cannot be read refused the
      // policy (or its reload) then, so nothing is read or parsed here.
      const trust = ctx.policy.trust;
      // Unreachable with a policy from compilePolicy; closed (a fail, which onError never
      // admits) rather than open, were it ever reached.
      if (!trust)
        return fail(
          'signature',
          "internal error: the policy's signature settings were not compiled, so no signature can be checked",
          "Report this to the webhook's maintainers.",
        );
      // One envelope budget for the image and its platform children together.
      const budget = new EnvelopeBudget();
      try {
        const signer = (v: SignatureVerdict) => v.valid.map((s) => s.signer).join(', ');
        const children = resolved.platforms ?? [];
        if (trust.multiArch === 'indexOrChildren' || children.length === 0) {
          const verdict = await verdictFor(ctx, trust, resolved, budget);
          if (verdict.valid.length > 0)
            return pass('signature', { reason: `signed by ${signer(verdict)}`, warnings: verdict.valid.flatMap((v) => v.warnings) });
          if (children.length === 0) return (await judge(ctx, trust, verdict, resolved.digest, ''))!;
        }
        // Every platform manifest must then carry its own valid signature.
        return await judgeChildren(ctx, trust, children, budget);
      } catch (err) {
        const what = `signatures of ${shortDigest(resolved.digest)}`;
        return ctx.image.oci ? ociFactFailure('signature', err, ctx.image.oci, what) : factFailure('signature', err, ctx.image.ecr!, what);
      }
    },
  };
}
