// The results of each distinct running image, checked by the webhook's own code
// (Reviewer.checkImage: same checks, policy, fact cache and AWS metrics). One evaluation per
// (policy version, effective policy, image reference): however many Pods run a digest, it is
// checked once per round. An `error` (AWS or registry fault) never overturns what the check
// said before: the previous pass or fail stands beside it (`standing`), so a throttled
// Inspector cannot turn a failing image into a passing one, nor a passing one into an alert.
import type { ImageCheck } from '../admission/pipeline.ts';
import type { CheckId, CheckResult } from '../checks/types.ts';
import type { CompiledPolicy, EffectivePolicy } from '../policy/compile.ts';
import { parseImageReference } from '../image/reference.ts';
import { errorMessage } from '../support/errors.ts';

export interface ImageEvaluation {
  readonly image: string;
  /** Absent when the reference cannot be read (nothing was checked). */
  readonly policy?: EffectivePolicy;
  readonly results: readonly CheckResult[];
  /** The digest the checks resolved. */
  readonly digest?: string;
  readonly evaluatedAt: number;
  /** Per check, the last result that was not an `error` (what an error leaves standing). */
  readonly standing: ReadonlyMap<CheckId, CheckResult>;
}

export interface ImageTask {
  readonly key: string;
  readonly image: string;
  /** A namespace the image runs in (the checks read its policy through it). */
  readonly namespace: string;
}

export interface EvaluatorDeps {
  readonly checkImage: (image: string, namespace: string, signal: AbortSignal, deadline: number) => Promise<ImageCheck>;
  readonly policy: () => CompiledPolicy;
  /** Images checked at once (each image's checks run concurrently within it). */
  readonly concurrency: number;
  /** Time allowed for one image's checks, in ms. */
  readonly budgetMs: number;
  readonly now?: () => number;
}

/** The key of an image in a namespace: one evaluation serves every Pod with the same key. */
export function imageKey(policy: CompiledPolicy, namespace: string, image: string): string {
  let ref;
  try {
    ref = parseImageReference(image);
  } catch {
    return `invalid\u0000${image}`;
  }
  return `${policy.version}\u0000${policy.forImage(namespace, ref).name}\u0000${ref.normalized}`;
}

export class ImageEvaluator {
  readonly #deps: EvaluatorDeps;
  readonly #now: () => number;
  readonly #evaluations = new Map<string, ImageEvaluation>();

  constructor(deps: EvaluatorDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  get(key: string): ImageEvaluation | undefined {
    return this.#evaluations.get(key);
  }

  get size(): number {
    return this.#evaluations.size;
  }

  /** Forgets evaluations no running Pod needs. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.#evaluations.keys()) if (!keys.has(key)) this.#evaluations.delete(key);
  }

  /** Evaluates every task, `concurrency` at a time; never throws. */
  async evaluate(tasks: readonly ImageTask[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < tasks.length) {
        const task = tasks[next++]!;
        this.#evaluations.set(task.key, await this.#evaluateOne(task));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.#deps.concurrency, tasks.length)) }, worker));
  }

  async #evaluateOne(task: ImageTask): Promise<ImageEvaluation> {
    const previous = this.#evaluations.get(task.key);
    const evaluatedAt = this.#now();
    try {
      parseImageReference(task.image);
    } catch (err) {
      // A Pod's image the webhook could not have read (admitted before the webhook, or in a
      // namespace it did not watch): reported, never checked, never a crash.
      const result: CheckResult = { check: 'origin', status: 'error', reason: `cannot read the image reference: ${errorMessage(err)}` };
      return { image: task.image, results: [result], evaluatedAt, standing: new Map() };
    }
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException(`re-check budget of ${this.#deps.budgetMs} ms spent`, 'TimeoutError')),
      this.#deps.budgetMs,
    );
    let checked: ImageCheck;
    try {
      checked = await this.#deps.checkImage(task.image, task.namespace, controller.signal, Date.now() + this.#deps.budgetMs);
    } catch (err) {
      // checkImage does not throw (the runner turns everything into results); should it, the
      // image is an error that keeps what stood before.
      checked = {
        results: [{ check: 'origin', status: 'error', reason: `internal error: ${errorMessage(err)}` }],
        effective: previous?.policy ?? this.#deps.policy().base,
      };
    } finally {
      clearTimeout(timer);
    }
    // A pinned reference whose tag could not be read this round (a fault, the deadline) was
    // judged as its digest alone, under the policy of the digest (admission/pipeline.ts): for
    // the controller that is an error like any other, which overturns nothing. Every check is
    // reported in error beside what stood, under the policy that stood.
    if (checked.tagMismatch?.kind === 'unread' && previous?.policy !== undefined) {
      const reason = `not re-checked: ${checked.tagMismatch.detail}`;
      const results = previous.results.map((r): CheckResult => ({ check: r.check, status: 'error', reason }));
      return { ...previous, results, evaluatedAt };
    }
    // What stood was said under one effective policy: a pinned reference whose tag moved is
    // judged under the policy of its digest alone (admission/pipeline.ts), which the key
    // (chosen with the tag) does not tell apart, so nothing stands across that change.
    const standing = new Map(previous?.policy === checked.effective ? previous.standing : undefined);
    for (const r of checked.results) if (r.status !== 'error') standing.set(r.check, r);
    // A check the policy no longer runs has nothing standing.
    for (const id of standing.keys()) if (!checked.results.some((r) => r.check === id)) standing.delete(id);
    return {
      image: task.image,
      policy: checked.effective,
      results: checked.results,
      ...(checked.digest !== undefined && { digest: checked.digest }),
      evaluatedAt,
      standing,
    };
  }
}
