// A reference that names a tag and a digest whose tag was not found to name the digest: it names
// another digest now, or no image at all (the tag moved, or was deleted, after the reference was
// pinned: a template pinned by `pinning.mode: pods-and-templates` or `ecr-admission pin`, whose
// scale-ups were all denied until the template changed), or could not be resolved (the digest
// check says which, checks/digest.ts). A node pulls such a reference by its digest and ignores
// the tag (containerd, CRI-O), so the pipeline judges it as the digest alone, REPO@DIGEST,
// exactly as if the tag were not written: the policy is chosen without the tag, so no override
// scoped to the tag applies to a digest the tag does not name, and nothing is admitted that
// REPO@DIGEST written by hand would not be (pipeline.ts checkImage runs both forms and picks
// one; this file says what the digest alone is and how its results tell the story).
import type { CheckResult, TagMismatch } from '../checks/types.ts';
import { shortDigest } from '../image/digest.ts';
import { policyNameOf, type ImageReference } from '../image/reference.ts';

/** REPO@DIGEST of a reference that also names a tag: what parseImageReference would make of it
 *  (domain and path are normalised already), the reference as written kept for messages. */
export function digestAlone(ref: ImageReference, digest: string): ImageReference {
  return {
    original: ref.original,
    domain: ref.domain,
    path: ref.path,
    digest,
    normalized: `${ref.domain}/${ref.path}@${digest}`,
    policyName: policyNameOf(ref.domain, ref.path, undefined, digest),
  };
}

/** Why a digest result that is not a pass, and says nothing more (the digest check sets `moved`
 *  and `gone` itself), leaves the tag unconfirmed: a fault or the deadline (`error`) leaves it
 *  unread, anything else (archived, an index the webhook cannot check) unresolved. Sound whatever
 *  the failure: the digest alone is judged under the policy chosen without the tag, exactly as
 *  REPO@DIGEST written by hand. And it must be so: judged as written, a failure under an
 *  override the tag chose (`images: [".../web:dev-*"]`, mode audit) was admitted, so any digest
 *  could be run behind a tag that matched the override and named nothing, or whose lookup was
 *  slowed past the deadline (attacker reviews). */
export function tagNotConfirmed(tag: string, digestResult: CheckResult): TagMismatch {
  const detail = `tag ${tag} did not resolve: ${digestResult.reason ?? digestResult.status}`;
  return digestResult.status === 'error' ? { kind: 'unread', detail } : { kind: 'unresolved', detail };
}

/** What a developer's kubectl shows of each way a tag can fail to name the digest. */
const TAG_STORY: Record<TagMismatch['kind'], string> = {
  moved: 'its tag names another digest now',
  gone: 'its tag names no image now',
  unresolved: 'its tag could not be resolved',
  unread: 'its tag could not be read',
};

/** The digest alone's results, its digest result saying why it was judged so: in the reason (a
 *  denial's message carries reasons, not warnings) and in a warning short enough for kubectl
 *  (clipped at WARNING_MAX after the container's name). */
export function judgedAsDigestAlone(results: readonly CheckResult[], ref: ImageReference, digest: string, mismatch: TagMismatch): CheckResult[] {
  const judged = `judged as the digest alone (${ref.domain}/${ref.path}@${digest}), which is what a node pulls`;
  const warning = `${TAG_STORY[mismatch.kind]}: judged as ${shortDigest(digest)} alone; re-pin or drop the tag`;
  return results.map((r) =>
    r.check === 'digest'
      ? {
          ...r,
          reason: `${r.reason ?? r.status} (${mismatch.detail}: ${judged}; re-pin the reference to what the tag names now, or drop the tag)`,
          warnings: [...(r.warnings ?? []), warning],
        }
      : r,
  );
}
