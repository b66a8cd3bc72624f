// Turns a FactError into the check result a developer reads: definitive facts about the image
// fail the check; AWS trouble is an `error` that the decision folds through onError.
import type { EcrImageLocation } from './types.ts';
import { error, fail, type CheckId, type CheckOutcome } from './types.ts';
import { FactError, fromAwsError } from '../facts/errors.ts';
import { ErrorCodes } from '../support/errors.ts';

const cliScope = (loc: EcrImageLocation) => `--registry-id ${loc.accountId} --region ${loc.region}`;

export function remainingMs(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

export function factFailure(check: CheckId, err: unknown, loc: EcrImageLocation, what: string): CheckOutcome {
  const e = err instanceof FactError ? err : fromAwsError(err, 'ecr', 'unknown');
  const repo = `repository ${loc.repository} (${loc.accountId}, ${loc.region})`;
  switch (e.code) {
    case ErrorCodes.IMAGE_NOT_FOUND:
      return fail(
        check,
        `${what} not found in ${repo}`,
        `Push it, or check the name: aws ecr describe-images --repository-name ${loc.repository} ${cliScope(loc)}.`,
      );
    case ErrorCodes.REPOSITORY_NOT_FOUND:
      return fail(check, `${repo} does not exist`, 'Check the repository name, account and region in the image reference.');
    case ErrorCodes.IMAGE_ARCHIVED:
      return fail(
        check,
        `${what} is archived in ${repo} and cannot be pulled`,
        `Restore it first: aws ecr update-image-storage-class --repository-name ${loc.repository} --image-id imageTag=... --target-storage-class STANDARD ${cliScope(loc)}.`,
      );
    case ErrorCodes.IMAGE_ACTIVATING:
      return fail(check, `${what} is being restored from the archive in ${repo}`, 'Deploy again when the restore has finished.');
    case ErrorCodes.TAG_DIGEST_MISMATCH:
      return fail(check, `the tag and digest in the reference name different images: ${e.message}`, 'Use the digest the tag points to now, or drop the tag.', {
        tagMismatch: { kind: 'moved', detail: e.message },
      });
    case ErrorCodes.INVALID_MANIFEST:
      return fail(check, `ECR returned a manifest that does not match its digest: ${e.message}`, 'Report this; do not deploy the image until it is explained.');
    case ErrorCodes.ACCESS_DENIED:
      return error(
        check,
        e.message,
        `Grant the webhook's IAM role (IRSA or Pod Identity) ecr:${e.operation} on ${loc.accountId}, or set registries.ecr[].roleArn for a cross-account registry.`,
      );
    case ErrorCodes.THROTTLED:
      return error(check, e.message, 'Retry in a moment; the webhook caches answers so retries are cheap.');
    case ErrorCodes.TIMEOUT:
      return error(check, e.message, "Retry; if it persists, check the webhook's network path to AWS (VPC endpoints).");
    default:
      return error(check, e.message);
  }
}
