// The contract every check implements. A check returns a value and never throws to its
// caller: `pass`, `fail` (the image breaks the policy: reason + hint), `error` (a fact could
// not be established) or `skip`. Only decision/ turns results into allow or deny.
import type { CompiledPolicy, EffectivePolicy } from '../policy/compile.ts';
import type { ImageReference } from '../image/reference.ts';

export const CHECK_IDS = ['origin', 'digest', 'immutability', 'signature', 'vulnerabilities', 'posture'] as const;
export type CheckId = (typeof CHECK_IDS)[number];
export type CheckStatus = 'pass' | 'fail' | 'error' | 'skip';

export interface CheckResult {
  readonly check: CheckId;
  readonly status: CheckStatus;
  /** One line a developer can act on (fail, error, skip). */
  readonly reason?: string;
  /** What to do about it, a full sentence. */
  readonly hint?: string;
  /** Advisories that hold even when the check passes (an exception expiring soon). */
  readonly warnings?: readonly string[];
  readonly durationMs?: number;
}

export type { ManifestDescriptor, PlatformManifest, ResolvedImage, EcrImageLocation, OciImageLocation } from '../facts/ports.ts';
import type { EcrImageLocation, OciImageLocation, ResolvedImage } from '../facts/ports.ts';

export interface ImageSubject {
  readonly ref: ImageReference;
  readonly ecr?: EcrImageLocation;
  /** Set when the image's host is one of the policy's registries.oci. */
  readonly oci?: OciImageLocation;
  /** True when `ecr` is set and the policy allows that account and region: only then do the
   *  ECR checks (digest, immutability, signature, vulnerabilities) run. */
  readonly managed: boolean;
  /** Set by the digest check when it passes. */
  resolved?: ResolvedImage;
  /** Set by the digest check when the reference names a tag and a digest and it knows the tag
   *  names another digest (`moved`) or no image (`gone`): for the pipeline, which then judges the
   *  reference as its digest alone, as it does for any other digest result but a pass
   *  (admission/pipeline.ts, admission/moved-tag.ts). */
  tagMismatch?: TagMismatch;
}

/** Why a reference's tag was not found to name the reference's digest: the tag names another
 *  digest now (`moved`), names no image (`gone`: deleted), its lookup failed definitively some
 *  other way (`unresolved`: archived, an index the webhook cannot check), or could not be read
 *  (`unread`: an AWS or registry fault, or the deadline). In every case a node pulls the digest
 *  and ignores the tag, and the tag cannot be shown to choose the reference's policy, so the
 *  digest alone is judged. */
export interface TagMismatch {
  readonly kind: 'moved' | 'gone' | 'unresolved' | 'unread';
  /** For the log line and the denial's reasons: "tag v1 points to sha256:..., not sha256:...". */
  readonly detail: string;
}

export interface CheckContext {
  readonly image: ImageSubject;
  readonly policy: EffectivePolicy;
  readonly compiled: CompiledPolicy;
  readonly namespace: string;
  /** Aborts when the admission's deadline passes; every AWS call takes it. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds at which the admission must have decided. */
  readonly deadline: number;
  readonly now: Date;
}

/** What the digest check hands to the checks after it. */
export interface CheckOutcome extends CheckResult {
  readonly resolved?: ResolvedImage;
  /** ImageSubject.tagMismatch, from the digest check. */
  readonly tagMismatch?: TagMismatch;
}

export interface Check {
  readonly id: CheckId;
  /** Checks that must pass before this one runs; if one does not, this one is skipped. */
  readonly needs: readonly CheckId[];
  /** False when the policy turns the check off or it does not apply to this image. */
  enabled(policy: EffectivePolicy, image: ImageSubject): boolean;
  run(ctx: CheckContext): Promise<CheckOutcome>;
}

export function pass(check: CheckId, extra: Partial<CheckOutcome> = {}): CheckOutcome {
  return { check, status: 'pass', ...extra };
}

export function fail(check: CheckId, reason: string, hint?: string, extra: Partial<CheckOutcome> = {}): CheckOutcome {
  return { check, status: 'fail', reason, ...(hint !== undefined && { hint }), ...extra };
}

export function error(check: CheckId, reason: string, hint?: string): CheckOutcome {
  return { check, status: 'error', reason, ...(hint !== undefined && { hint }) };
}

export function skip(check: CheckId, reason: string): CheckOutcome {
  return { check, status: 'skip', reason };
}
