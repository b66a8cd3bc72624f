// The mutating webhook (POST /mutate): rewrites each image of a Pod (its containers' and its
// image volumes' references, json-patch.ts imageSites) that names a tag of an ECR repository
// (or of a registries.oci registry) to tag@digest, the digest the validating webhook then
// verifies, so the kubelet pulls exactly what was checked however the tag moves later. It never
// denies and never waits past its own budget: an image it cannot resolve is left as written,
// and the validating webhook decides on it as it would have without pinning.
import type { CompiledPolicy } from '../policy/compile.ts';
import { errorMessage } from '../support/errors.ts';
import type { AdmissionRequest, AdmissionResponse } from './codec.ts';
import { encodePatch, imageSites, needsPin, pinOperations, stringAt, type ImageSite } from './json-patch.ts';
import type { PinResolver } from './pin-resolver.ts';

export interface MutatorDeps {
  readonly policy: () => CompiledPolicy;
  readonly resolver: PinResolver;
  /** Time allowed for one mutation's lookups, in ms: shorter than the validating budget. */
  readonly budgetMs: number;
}

export interface MutateOutcome {
  readonly response: AdmissionResponse;
  /** patched (a patch was returned), unchanged (nothing to pin or nothing resolved), skipped. */
  readonly result: 'patched' | 'unchanged' | 'skipped';
  readonly why?: string;
  readonly pinned: number;
  /** Images left as written because their digest could not be had, with why. */
  readonly unresolved: ReadonlyMap<string, string>;
}

export interface Mutator {
  mutate(request: AdmissionRequest): Promise<MutateOutcome>;
}

const NONE: ReadonlyMap<string, string> = new Map();

function leave(request: AdmissionRequest, result: 'unchanged' | 'skipped', why: string, unresolved = NONE): MutateOutcome {
  return { response: { uid: request.uid, allowed: true }, result, why, pinned: 0, unresolved };
}

/** Why the request is not pinned, or undefined when it is. */
function notPinned(request: AdmissionRequest, policy: CompiledPolicy): string | undefined {
  const mode = policy.pinning.mode;
  if (mode === 'off') return 'pinning is off';
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return `operation ${request.operation} is not pinned`;
  const isPod = request.kind.group === '' && request.kind.kind === 'Pod';
  if (request.subResource !== undefined && !(isPod && request.subResource === 'ephemeralcontainers')) return `subresource ${request.subResource} is not pinned`;
  // Workload templates only on request: rewriting a template starts a rollout.
  if (!isPod && mode !== 'pods-and-templates') return `kind ${request.kind.kind} is not pinned (pinning.mode ${mode})`;
  // The policy's exclusions include the webhook's own namespace (compile.ts ownNamespace).
  const namespace = request.namespace ?? '';
  if (namespace !== '' && policy.isNamespaceExcluded(namespace)) return `namespace ${namespace} is excluded`;
  return undefined;
}

/** On UPDATE only the images the update writes are pinned: rewriting one the object already
 *  had would restart its container (and an existing ephemeral container cannot change). */
function introducedBy(request: AdmissionRequest, sites: readonly ImageSite[]): readonly ImageSite[] {
  if (request.operation !== 'UPDATE') return sites;
  return sites.filter((s) => stringAt(request.oldObject, s.path) !== s.image);
}

export function createMutator(deps: MutatorDeps): Mutator {
  return {
    async mutate(request) {
      try {
        const policy = deps.policy();
        const skip = notPinned(request, policy);
        if (skip !== undefined) return leave(request, 'skipped', skip);
        const sites = imageSites(request.kind.group, request.kind.kind, request.object);
        // An object that cannot be read is the validating webhook's to deny, not ours to patch.
        if (sites === undefined) return leave(request, 'skipped', 'no readable pod spec');
        const candidates = introducedBy(request, sites).filter((s) => needsPin(s.image));
        if (candidates.length === 0) return leave(request, 'unchanged', 'no image to pin');
        const resolution = await deps.resolver.resolve(
          candidates.map((s) => s.image),
          request.namespace ?? '',
          policy,
          deps.budgetMs,
        );
        const ops = pinOperations(candidates, resolution.digests);
        if (ops.length === 0) return leave(request, 'unchanged', 'no image resolved to a digest', resolution.unresolved);
        return {
          response: { uid: request.uid, allowed: true, patchType: 'JSONPatch', patch: encodePatch(ops) },
          result: 'patched',
          pinned: ops.length,
          unresolved: resolution.unresolved,
        };
      } catch (err) {
        // Never a denial, never a 500: the object goes on as written, to be validated.
        return leave(request, 'unchanged', `internal error: ${errorMessage(err)}`);
      }
    },
  };
}
