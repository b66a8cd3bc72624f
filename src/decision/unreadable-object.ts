// Which policy decides an object whose images cannot be known: one the requester sent that
// cannot be read, or that is over a bound (more than 256 containers). That is input the
// requester controls, so it is a `fail` that onError never governs; only the mode applies.
//
// Choice: the images are unknown, so no image-specific override can be said to apply. The
// starting point is the namespace's policy for an image that only the pattern "*" matches:
// the first override matching the namespace whose images are "*" (or absent), else the base
// policy. But an override listed before it, matching the namespace with narrower images,
// would apply to the images it names, and the object may well hold them: were the catch-all
// softer (warn over an `enforce` for "*/prod/*"), an attacker could soften the decision for
// those images by making the object unreadable. So the strictest mode among those candidates
// decides (enforce, then warn, then audit). Ignoring overrides (the base policy alone) would
// be softer still where an override enforces over a base in audit.
import type { Mode } from '../policy/schema.ts';
import type { CompiledPolicy, EffectivePolicy } from '../policy/compile.ts';

const STRICTNESS: Record<Mode, number> = { audit: 0, warn: 1, enforce: 2 };

/** The policy (for its mode and name only) that decides an unreadable object in `namespace`. */
export function policyForUnknownImages(policy: CompiledPolicy, namespace: string): EffectivePolicy {
  let strictest: EffectivePolicy | undefined;
  let caught = false;
  for (const o of policy.overrides) {
    if (!o.namespace(namespace)) continue;
    if (!strictest || STRICTNESS[o.effective.mode] > STRICTNESS[strictest.mode]) strictest = o.effective;
    if (o.everyImage) {
      caught = true;
      break;
    }
  }
  if (!caught && (!strictest || STRICTNESS[policy.base.mode] > STRICTNESS[strictest.mode])) strictest = policy.base;
  return strictest!;
}
