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
import { anyOf, globMatcher, type Matcher } from '../policy/glob.ts';

const STRICTNESS: Record<Mode, number> = { audit: 0, warn: 1, enforce: 2 };

interface Candidate {
  readonly namespace: Matcher;
  /** Its images are "*" or absent: it applies to every image, so nothing after it does. */
  readonly catchAll: boolean;
  readonly effective: EffectivePolicy;
}

// Compiled once per policy load (CompiledPolicy objects are frozen and replaced on reload).
const compiled = new WeakMap<CompiledPolicy, readonly Candidate[]>();

function candidatesOf(policy: CompiledPolicy): readonly Candidate[] {
  let list = compiled.get(policy);
  if (!list) {
    const file = policy.file;
    list = file.overrides.map((o) => ({
      namespace: o.namespaces ? anyOf(o.namespaces.map(globMatcher)) : () => true,
      catchAll: o.images === undefined || o.images.includes('*'),
      effective: Object.freeze({ name: o.name, mode: o.mode ?? file.mode, onError: o.onError ?? file.onError, checks: file.checks }),
    }));
    compiled.set(policy, list);
  }
  return list;
}

/** The policy (for its mode and name only) that decides an unreadable object in `namespace`. */
export function policyForUnknownImages(policy: CompiledPolicy, namespace: string): EffectivePolicy {
  const base: EffectivePolicy = { name: 'default', mode: policy.file.mode, onError: policy.file.onError, checks: policy.file.checks };
  let strictest: EffectivePolicy | undefined;
  let caught = false;
  for (const c of candidatesOf(policy)) {
    if (!c.namespace(namespace)) continue;
    if (!strictest || STRICTNESS[c.effective.mode] > STRICTNESS[strictest.mode]) strictest = c.effective;
    if (c.catchAll) {
      caught = true;
      break;
    }
  }
  if (!caught && (!strictest || STRICTNESS[base.mode] > STRICTNESS[strictest.mode])) strictest = base;
  return strictest!;
}
