// FactError -> check result for images in a registries.oci registry.
import { FactError, fromAwsError } from '../facts/errors.ts';
import { error, fail, type CheckId, type CheckOutcome, type OciImageLocation } from './types.ts';
import { ErrorCodes } from '../support/errors.ts';

export function ociFactFailure(check: CheckId, err: unknown, loc: OciImageLocation, what: string): CheckOutcome {
  const e = err instanceof FactError ? err : fromAwsError(err, 'oci', 'unknown');
  const repo = `${loc.host}/${loc.repository}`;
  switch (e.code) {
    case ErrorCodes.IMAGE_NOT_FOUND:
    case ErrorCodes.REPOSITORY_NOT_FOUND:
      return fail(check, `${what} not found in ${repo}`, 'Push it, or check the reference.');
    case ErrorCodes.TAG_DIGEST_MISMATCH:
      return fail(check, `the tag and digest in the reference name different images: ${e.message}`, 'Use the digest the tag points to now, or drop the tag.', {
        tagMismatch: { kind: 'moved', detail: e.message },
      });
    case ErrorCodes.INVALID_MANIFEST:
      return fail(check, `${repo} returned content that does not match its digest: ${e.message}`, 'Do not deploy the image until this is explained.');
    default:
      return error(check, `${e.message}`, `Check that the webhook can reach ${loc.host}.`);
  }
}
