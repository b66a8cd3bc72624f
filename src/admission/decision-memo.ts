// Remembers whole decisions on top of the image results of check-memo.ts, so that a request
// whose every image is remembered is answered without folding its results again: no verdict
// list, no decide(), no audit summary built and serialised per admission (issue 18: about a
// quarter of a warm admission's CPU in the server, bench/README.md).
//
// A remembered decision is exactly what decide() would answer now, because:
// - its key is everything decide() reads of the request besides the image results: the
//   namespace and each container as written (kind, name, image, in order), and whether the
//   request's images must arrive pinned (require-pinned.ts); kept per compiled policy object,
//   so a reload starts empty;
// - the image results it was folded from are compared by identity with what check-memo.ts
//   answers now: a result that check-memo dropped (a fact refreshed or expired, an exception's
//   boundary crossed, an eviction) is a different object, and the decision is made again.
//   (Check-memo keeps results per namespace and image, so this alone already tells namespaces
//   and images apart; the key names them too, so that a key never depends on that.)
// - denials are never kept: their message names the object (kind, namespace, name), which is
//   not in the key. Allow, warn and audit answers name no object.
import { LRUCache } from 'lru-cache';
import type { CheckResult } from '../checks/types.ts';
import type { ContainerImage, Decision, ImageVerdictInput } from '../decision/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { ImageVerdict } from './check-memo.ts';

export interface RememberedDecision {
  /** The results it was folded from, one per distinct image, in the containers' order. */
  readonly verdicts: readonly ImageVerdict[];
  readonly decision: Decision;
  /** What decide() was given, per container: the log line's images. */
  readonly images: readonly ImageVerdictInput[];
  /** The results counted in ecr_admission_check_results_total each time it answers: those of
   *  each distinct image once. */
  readonly counted: readonly CheckResult[];
  /** Counts `counted` in the metric (HotCounter.counting), each time the decision answers. */
  readonly count: () => void;
}

/** Requests with more containers, or longer keys, are decided every time, never kept. */
const MAX_CONTAINERS = 16;
const MAX_KEY_LENGTH = 8192;
const MAX_ENTRIES = 1024;
/** What the entries of one policy may hold together, in characters of their strings (about
 *  twice that in bytes at worst): a requester who varies container names and images can fill
 *  the memo, and 1024 entries of the largest size would otherwise hold about 34 MiB (attacker
 *  review, issue 18). A rollout's decision is a few hundred characters. */
const MAX_TOTAL_CHARS = 1024 * 1024;

/** The characters an entry holds: its key, its containers' strings (held once more by the
 *  images), its audit annotations and warnings, and the message if any; and, as 8 characters
 *  each, the references to its counted results and to the counter cells it counts them in. */
function sizeOf(key: string, remembered: RememberedDecision): number {
  let chars = key.length + 256 + remembered.counted.length * 16;
  for (const i of remembered.images) chars += i.container.containerName.length + i.container.image.length + 64;
  for (const value of Object.values(remembered.decision.auditAnnotations)) chars += value.length;
  for (const w of remembered.decision.warnings) chars += w.length;
  return chars + (remembered.decision.message?.length ?? 0);
}

export class DecisionMemo {
  readonly #byPolicy = new WeakMap<CompiledPolicy, LRUCache<string, RememberedDecision>>();

  /** The key of a request's decision, or undefined when it is not to be kept. */
  static key(namespace: string, containers: readonly ContainerImage[], requirePin: boolean): string | undefined {
    if (containers.length > MAX_CONTAINERS) return undefined;
    // Every string length-prefixed, so that no field can run into the next whatever it holds
    // (one string built in a loop: the JSON of arrays per container cost the warm path about
    // 1 µs per admission, issue 18).
    let key = `${requirePin ? 1 : 0}${namespace.length}:${namespace}`;
    for (const c of containers) key += `${c.containerKind.length}:${c.containerKind}${c.containerName.length}:${c.containerName}${c.image.length}:${c.image}`;
    return key.length <= MAX_KEY_LENGTH ? key : undefined;
  }

  /** The decision kept under `key`, if it was folded from exactly `verdicts`. */
  lookup(policy: CompiledPolicy, key: string, verdicts: readonly ImageVerdict[]): RememberedDecision | undefined {
    const kept = this.#byPolicy.get(policy)?.get(key);
    if (kept === undefined || kept.verdicts.length !== verdicts.length) return undefined;
    for (let i = 0; i < verdicts.length; i++) if (kept.verdicts[i] !== verdicts[i]) return undefined;
    return kept;
  }

  /** How many characters the entries of `policy` hold (tests of the memo's memory). */
  heldChars(policy: CompiledPolicy): number {
    return this.#byPolicy.get(policy)?.calculatedSize ?? 0;
  }

  remember(policy: CompiledPolicy, key: string, remembered: RememberedDecision): void {
    if (remembered.decision.result === 'deny') return;
    let lru = this.#byPolicy.get(policy);
    if (lru === undefined) {
      lru = new LRUCache<string, RememberedDecision>({ max: MAX_ENTRIES, maxSize: MAX_TOTAL_CHARS, sizeCalculation: (value, key) => sizeOf(key, value) });
      this.#byPolicy.set(policy, lru);
    }
    lru.set(key, remembered);
  }
}
