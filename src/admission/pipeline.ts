// The admission pipeline shared by the webhook and the `check` command: filter the request,
// extract images, run the checks per image under one deadline, fold into a decision.
import type { Logger } from 'pino';
import { parseEcrHost } from '../image/ecr-host.ts';
import { effectiveTag, parseImageReference } from '../image/reference.ts';
import { errorMessage } from '../support/errors.ts';
import { runChecks } from '../checks/runner.ts';
import { fail, type Check, type CheckResult, type ImageSubject } from '../checks/types.ts';
import { decide } from '../decision/decide.ts';
import { policyForUnknownImages } from '../decision/unreadable-object.ts';
import type { Decision, ImageVerdictInput } from '../decision/types.ts';
import type { CompiledPolicy, EffectivePolicy } from '../policy/compile.ts';
import type { Metrics } from '../support/metrics.ts';
import { extractImages, type ContainerImage } from './extract.ts';
import { RecentPasses, type TagDigestLookup } from './unchanged-images.ts';
import { isNamespaceRequest, narrowingChange, type NamespaceLabelGuard } from './namespace-labels.ts';
import type { AdmissionRequest, AdmissionResponse } from './codec.ts';
import { pinRequired, unpinnedFailure } from './require-pinned.ts';
import type { CheckMemo, ImageVerdict } from './check-memo.ts';
import { DecisionMemo } from './decision-memo.ts';
import { digestAlone, judgedAsDigestAlone, tagNotConfirmed } from './moved-tag.ts';

export interface ReviewerDeps {
  /** The policy in force now (it can be reloaded between admissions). */
  readonly policy: () => CompiledPolicy;
  readonly checks: readonly Check[];
  /** Time allowed for one admission's decision, in ms. */
  readonly budgetMs: number;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  readonly now?: () => Date;
  /** What the fact cache still trusts about tags: without it, the UPDATE shortcut keeps only
   *  digest references (every tag the old object had is checked again). */
  readonly tagDigests?: TagDigestLookup;
  /** Who may switch the checks off for a namespace by its labels (namespace-labels.ts); absent:
   *  the opt-out label is off and Namespace requests are not checked. */
  readonly namespaceLabels?: NamespaceLabelGuard;
  /** Image results remembered while they still hold (check-memo.ts); absent: checked every time. */
  readonly memo?: CheckMemo;
  /** Whole decisions folded from remembered results (decision-memo.ts); one is made when `memo`
   *  is given (tests pass their own to count its answers). */
  readonly decisions?: DecisionMemo;
}

export interface ReviewOutcome {
  readonly response: AdmissionResponse;
  /** allow | deny | warn | audit | skipped (nothing to check). */
  readonly result: Decision['result'] | 'skipped';
  readonly why?: string;
  readonly images: readonly ImageVerdictInput[];
}

/** One image's results under the policy in force, as an admission computes them. */
export type ImageCheck = ImageVerdict;

export interface Reviewer {
  review(request: AdmissionRequest): Promise<ReviewOutcome>;
  /** The same checks of one image an admission runs (the controller re-checks running images
   *  with it: same checks, policy, fact cache and metrics, no second implementation). */
  checkImage(image: string, namespace: string, signal: AbortSignal, deadline: number): Promise<ImageCheck>;
}

function allowWithout(request: AdmissionRequest, why: string): ReviewOutcome {
  return { response: { uid: request.uid, allowed: true, auditAnnotations: { decision: 'skipped', reason: why } }, result: 'skipped', why, images: [] };
}

function toResponse(uid: string, decision: Decision): AdmissionResponse {
  return {
    uid,
    allowed: decision.allowed,
    ...(decision.message !== undefined && { status: { code: 403, reason: 'Forbidden', message: decision.message } }),
    ...(decision.warnings.length > 0 && { warnings: decision.warnings }),
    auditAnnotations: decision.auditAnnotations,
  };
}

function imagesOf(request: AdmissionRequest, object: unknown): { images: ContainerImage[] } | { error: string } | undefined {
  const extraction = extractImages(request.kind.group, request.kind.kind, object);
  if (!extraction.handled) return undefined;
  return 'error' in extraction ? { error: extraction.error } : { images: extraction.images };
}

export function subjectOf(ref: ReturnType<typeof parseImageReference>, policy: CompiledPolicy): ImageSubject {
  const registry = parseEcrHost(ref.domain);
  if (!registry) {
    const oci = policy.ociRegistries.get(ref.domain);
    return oci ? { ref, oci: { host: oci.host, repository: ref.path, plainHttp: oci.plainHttp === true }, managed: false } : { ref, managed: false };
  }
  const allowed = policy.ecrAccounts.get(registry.accountId);
  const managed = allowed !== undefined && (!allowed.regions || allowed.regions.includes(registry.region));
  return { ref, ecr: { ...registry, repository: ref.path }, managed };
}

/** The first of `items` for each distinct image, in order. */
function firstPerImage<T>(items: readonly T[], imageOf: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const image = imageOf(item);
    if (seen.has(image)) return false;
    seen.add(image);
    return true;
  });
}

/** The results an admission counts in ecr_admission_check_results_total: each distinct
 *  image's once. */
function resultsToCount(verdicts: readonly ImageVerdictInput[]): CheckResult[] {
  return firstPerImage(verdicts, (v) => v.container.image).flatMap((v) => v.results);
}

/** One result per distinct image, in the order the containers name them. */
function distinctVerdicts(containers: readonly ContainerImage[], byImage: ReadonlyMap<string, ImageVerdict>): ImageVerdict[] {
  return firstPerImage(containers, (c) => c.image).map((c) => byImage.get(c.image)!);
}

export function createReviewer(deps: ReviewerDeps): Reviewer {
  const now = deps.now ?? (() => new Date());
  const recentPasses = new RecentPasses();
  // Whole decisions, folded from remembered image results (decision-memo.ts).
  const decisions = deps.memo ? (deps.decisions ?? new DecisionMemo()) : undefined;

  /** Whether an image string the old object had may skip its checks (unchanged-images.ts). */
  function stillTrusted(image: string, namespace: string, policy: CompiledPolicy): boolean {
    let ref;
    try {
      ref = parseImageReference(image);
    } catch {
      return false;
    }
    if (ref.digest !== undefined) return true;
    const tag = effectiveTag(ref);
    if (tag === undefined || !deps.tagDigests) return false;
    const digest = deps.tagDigests.freshTagDigest(subjectOf(ref, policy), tag);
    const ttlMs = policy.cache.ttlSeconds.mutableTag * 1000;
    return digest !== undefined && recentPasses.passedWithin(policy, namespace, image, ttlMs, now().getTime()) === digest;
  }

  /** One image's checks. Its result is remembered by (policy, namespace, image) (check-memo.ts):
   *  whatever else of the request a check comes to need must join that key, or the memo would
   *  answer for one Pod with another's results. */
  async function checkImage(image: string, namespace: string, policy: CompiledPolicy, signal: AbortSignal, deadline: number): Promise<ImageVerdict> {
    let ref;
    try {
      ref = parseImageReference(image);
    } catch (err) {
      // No node pulls what cannot be parsed, and no pattern can be said to name it: the strictest
      // policy that could apply to an image of the namespace decides (attacker review: matched
      // as written, `HOST/x/../../app` chose an audit override on `HOST/x*`).
      const effective = policyForUnknownImages(policy, namespace);
      return { results: [fail('origin', errorMessage(err), 'Fix the image reference.')], effective };
    }
    const effective = policy.forImage(namespace, ref);
    const subject = subjectOf(ref, policy);
    const run = (image: ImageSubject, policyOfImage: EffectivePolicy, runSignal = signal) =>
      runChecks(deps.checks, { image, policy: policyOfImage, compiled: policy, namespace, signal: runSignal, deadline, now: now() });
    /** The digest alone's checks, started now. The runner turns every fault into a result,
     *  but a promise nobody may await must not be able to end the process. */
    const startDigestAlone = (image: ImageSubject, policyOfImage: EffectivePolicy, runSignal: AbortSignal) => {
      const checking = run(image, policyOfImage, runSignal);
      checking.catch(() => undefined);
      return { subject: image, policy: policyOfImage, checking };
    };
    if (ref.tag === undefined || ref.digest === undefined) {
      const results = await run(subject, effective);
      return { results, effective, ...(subject.resolved && { digest: subject.resolved.digest }) };
    }
    // A tag and a digest. Which of the two forms is judged depends on where the tag points now,
    // which the form as written's digest check finds out. Unless the cache already knows the tag
    // names this digest, the digest alone is checked at the same time, not after: a form judged
    // only once the other had finished would have less of the admission's deadline than the
    // same digest written by hand, and under onError: allow a requester could write a moved tag
    // to run the digest's checks out of time (attacker review of this change). The form as
    // written always runs, so the tag it reads is among the facts a remembered verdict rests on.
    const pinned = deps.tagDigests?.freshTagDigest(subject, ref.tag) === ref.digest ? undefined : digestAlone(ref, ref.digest);
    // Stopped once the form as written is judged instead (its waits end; the loads it started
    // go on for whoever else waits on them, fact-cache.ts).
    const unneeded = new AbortController();
    const alone = pinned && startDigestAlone(subjectOf(pinned, policy), policy.forImage(namespace, pinned), AbortSignal.any([signal, unneeded.signal]));
    const results = await run(subject, effective);
    // Any digest result but a pass means the tag was not shown to name the digest, so the
    // policy it chose does not stand. The digest check says when the tag moved or is gone; any
    // other result, a check cut off by the deadline included, is classed by tagNotConfirmed
    // (moved-tag.ts): judged as written, a tag lookup slowed past the deadline left the tag's
    // override (mode audit, say) to admit any digest (attacker review).
    const digestResult = results.find((r) => r.check === 'digest');
    const mismatch =
      subject.tagMismatch ??
      (digestResult && digestResult.status !== 'pass' && digestResult.status !== 'skip' ? tagNotConfirmed(ref.tag, digestResult) : undefined);
    // A tag the cache said named the digest, which moved during this admission (its entry
    // expired or was evicted meanwhile, a window a requester can aim at): the digest alone was
    // not checked alongside, and checking it now would give it less of the deadline, so the
    // form as written stands, its mismatch failing as before this change; the next admission
    // finds the tag's new digest and is judged as the digest alone.
    if (mismatch === undefined || !alone) {
      unneeded.abort();
      return { results, effective, ...(subject.resolved && { digest: subject.resolved.digest }) };
    }
    const judged = judgedAsDigestAlone(await alone.checking, ref, ref.digest, mismatch);
    return {
      results: judged,
      effective: alone.policy,
      tagMismatch: mismatch,
      ...(alone.subject.resolved && { digest: alone.subject.resolved.digest }),
    };
  }

  /** The requireOnPods failure of one image as written, if it arrived unpinned. */
  function unpinnedFailureOf(image: string, policy: CompiledPolicy): CheckResult | undefined {
    let ref;
    try {
      ref = parseImageReference(image);
    } catch {
      return undefined; // the origin check already failed it
    }
    return unpinnedFailure(subjectOf(ref, policy), policy);
  }

  /** Counts `results` in ecr_admission_check_results_total each time it is called. A remembered
   *  decision keeps its own, which finds the metric's cells once (HotCounter.counting) instead
   *  of by label values at every admission (issue 18: 3-5 µs of a warm admission in the server,
   *  bench/README.md, seventh round). */
  function resultCounting(results: readonly CheckResult[]): () => void {
    const counter = deps.metrics?.checkResults;
    return counter ? counter.counting(results, (r) => ({ check: r.check, status: r.status })) : () => {};
  }

  return {
    checkImage: (image, namespace, signal, deadline) => checkImage(image, namespace, deps.policy(), signal, deadline),
    async review(request) {
      const policy = deps.policy();
      if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allowWithout(request, `operation ${request.operation} is not checked`);
      // Before the subresources and the namespace exclusions: a Namespace's own labels decide
      // whether it is checked, and its status and finalize subresources write them too.
      if (deps.namespaceLabels && isNamespaceRequest(request)) {
        const change = narrowingChange(deps.namespaceLabels, request);
        if (!change) return allowWithout(request, 'the namespace change keeps the image checks');
        const decision = decide({ kind: 'Namespace', ...(request.name !== undefined && { name: request.name }), images: [], namespaceLabel: change });
        return { response: toResponse(request.uid, decision), result: decision.result, why: change.change, images: [] };
      }
      const isEphemeral = request.kind.kind === 'Pod' && request.subResource === 'ephemeralcontainers';
      if (request.subResource && !isEphemeral) return allowWithout(request, `subresource ${request.subResource} is not checked`);
      const namespace = request.namespace ?? '';
      if (namespace !== '' && policy.isNamespaceExcluded(namespace)) return allowWithout(request, `namespace ${namespace} is excluded`);

      const found = imagesOf(request, request.object);
      if (found === undefined) return allowWithout(request, `kind ${request.kind.group}/${request.kind.kind} has no pod template`);
      if ('error' in found) {
        // Requester-controlled input that cannot be read (or is over a bound): decided like
        // every other decision, by decide(), where onError has no say.
        const unreadable = { reason: found.error, policy: policyForUnknownImages(policy, namespace) };
        const decision = decide({ kind: request.kind.kind, namespace, ...(request.name !== undefined && { name: request.name }), images: [], unreadable });
        return { response: toResponse(request.uid, decision), result: decision.result, why: found.error, images: [] };
      }
      let images = found.images;
      if (request.operation === 'UPDATE') {
        // Only images the update introduces need checking; this compares the objects
        // themselves and never trusts annotations or ownerReferences a user can write.
        const old = imagesOf(request, request.oldObject);
        // An image the old object had is skipped only while what made it pass still holds:
        // a digest reference always; a tag while its digest is fresh in the cache and that
        // digest recently passed (a tag can be reused after its image is deleted).
        if (old && 'images' in old) {
          const before = new Set(old.images.map((i) => i.image));
          const trusted = new Map<string, boolean>();
          const skips = (image: string) => {
            if (!before.has(image)) return false;
            if (!trusted.has(image)) trusted.set(image, stillTrusted(image, namespace, policy));
            return trusted.get(image)!;
          };
          images = images.filter((i) => !skips(i.image));
          if (images.length === 0) return allowWithout(request, 'the update changes no image');
        }
      }
      if (images.length === 0) return allowWithout(request, 'no images');

      // Images whose results are remembered (check-memo.ts) need no deadline, timer or checks.
      const byImage = new Map<string, ImageVerdict | Promise<ImageVerdict>>();
      for (const c of images) {
        if (byImage.has(c.image)) continue;
        const kept = deps.memo?.lookup(policy, namespace, c.image);
        if (kept) byImage.set(c.image, kept);
      }
      const unknown = images.filter((c) => !byImage.has(c.image));
      if (unknown.length > 0) {
        const deadline = Date.now() + deps.budgetMs;
        // A referenced timer, not AbortSignal.timeout (whose timer is unref'd): a check waiting
        // on nothing that holds the event loop would otherwise let `check` exit before the
        // deadline, with no answer and exit code 0. Cleared as soon as the decision is made,
        // so a busy webhook does not carry one pending timer per recent admission.
        const controller = new AbortController();
        // The same reason AbortSignal.timeout gives, so AWS clients and facts see a TimeoutError.
        const timer = setTimeout(() => controller.abort(new DOMException(`admission budget of ${deps.budgetMs} ms spent`, 'TimeoutError')), deps.budgetMs);
        try {
          // The same image in several containers is checked once.
          const checking: Array<Promise<ImageVerdict>> = [];
          for (const c of unknown) {
            if (byImage.has(c.image)) continue;
            const check = () => checkImage(c.image, namespace, policy, controller.signal, deadline);
            const verdict = deps.memo ? deps.memo.remember(policy, namespace, c.image, check) : check();
            byImage.set(c.image, verdict);
            checking.push(verdict);
          }
          await Promise.all(checking);
        } finally {
          clearTimeout(timer);
        }
      }
      const requirePin = pinRequired(request, policy);
      // Every image remembered: the decision folded from these very results may be too.
      // (No image is still being checked, so byImage holds results, not promises.)
      const decisionKey = decisions && unknown.length === 0 ? DecisionMemo.key(namespace, images, requirePin) : undefined;
      const folded = decisionKey !== undefined ? distinctVerdicts(images, byImage as Map<string, ImageVerdict>) : undefined;
      const kept = folded && decisions!.lookup(policy, decisionKey!, folded);
      if (kept) {
        kept.count();
        recentPasses.record(policy, namespace, kept.images, now().getTime());
        return { response: toResponse(request.uid, kept.decision), result: kept.decision.result, images: kept.images };
      }
      const verdicts: ImageVerdictInput[] = [];
      for (const container of images) {
        const got = byImage.get(container.image)!;
        const { results: checked, effective, digest } = got instanceof Promise ? await got : got;
        // pinning.requireOnPods (require-pinned.ts): per request, not remembered with the image's
        // results (the memo's key has no request kind), and never written into them.
        const unpinned = requirePin ? unpinnedFailureOf(container.image, policy) : undefined;
        const results = unpinned ? [...checked, unpinned] : checked;
        verdicts.push({ container, policy: effective, results, ...(digest && { digest }) });
      }
      const counted = resultsToCount(verdicts);
      const count = resultCounting(counted);
      count();
      recentPasses.record(policy, namespace, verdicts, now().getTime());
      const decision = decide({ kind: request.kind.kind, namespace, ...(request.name !== undefined && { name: request.name }), images: verdicts });
      if (folded) decisions!.remember(policy, decisionKey!, { verdicts: folded, decision, images: verdicts, counted, count });
      return { response: toResponse(request.uid, decision), result: decision.result, images: verdicts };
    },
  };
}
