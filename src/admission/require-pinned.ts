// pinning.requireOnPods: the validating webhook's half of digest pinning. The mutating webhook
// runs before every validating one, so a Pod whose ECR (or registries.oci) image still names
// only a tag here was not pinned: the mutating webhook was bypassed (not installed, its
// failurePolicy Ignore while it was down) or could not resolve the tag in its budget. Such a
// Pod would pull whatever the tag names at pull time, not what was verified: a `fail` of the
// digest check, decided like any other by decide() under the image's mode.
import { fail, type CheckResult, type ImageSubject } from '../checks/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { AdmissionRequest } from './codec.ts';

/** Whether this request's images must arrive pinned. */
export function pinRequired(request: AdmissionRequest, policy: CompiledPolicy): boolean {
  return policy.pinning.requireOnPods && request.kind.group === '' && request.kind.kind === 'Pod';
}

/** The failure for an image that should have arrived pinned, or undefined. */
export function unpinnedFailure(subject: ImageSubject, policy: CompiledPolicy): CheckResult | undefined {
  if (subject.ref.digest !== undefined || (!subject.managed && subject.oci === undefined)) return undefined;
  if (policy.pinning.mode === 'off') {
    return fail(
      'digest',
      'the image names no digest, and pinning.requireOnPods requires one (pinning.mode is off, so nothing adds it)',
      'Write the image as tag@sha256:... (`ecr-admission pin FILE` does it for manifests in git).',
    );
  }
  return fail(
    'digest',
    'the image reached the webhook without a digest: the ecr-admission mutating webhook (digest pinning) was bypassed or down, or could not resolve the tag in time',
    'Check that the MutatingWebhookConfiguration of ecr-admission exists and its pods are ready, then create the Pod again; or write the image as tag@sha256:... (`ecr-admission pin`).',
  );
}
