// The warm path's memo (src/admission/check-memo.ts) must never change a decision: a reviewer
// with it answers every admission exactly as a reviewer without it, sharing the same fact
// cache and clock, across policy reloads, overrides, exceptions that expire (and warn on
// their last days), facts whose TTLs run out, and a world that changes underneath (tags moved,
// findings found). Property-based (fast-check) with an injected clock; each admission is
// answered first with the memo, then without it, so a remembered answer that should have been
// dropped shows as a difference. (The cache there is large enough never to evict: an eviction
// by one reviewer's loads would change what the other reads. Eviction has its own test below.)
//
// The facts are one image's tag digest and its vulnerability report, read through the real
// FactCache from an in-memory world; the checks are the real origin check, a digest check that
// resolves the tag through the cache, and the real vulnerabilities verdict (evaluateReport:
// severities, exceptions, their expiry and warnings). The policy is the real loader and
// compiler. What the memo depends on is exercised; which AWS call produced a fact is not.
import t from 'tap';
import fc from 'fast-check';
import { createReviewer, type Reviewer } from '../../src/admission/pipeline.ts';
import { CheckMemo, type ImageVerdict } from '../../src/admission/check-memo.ts';
import { DecisionMemo, type RememberedDecision } from '../../src/admission/decision-memo.ts';
import { originCheck } from '../../src/checks/origin.ts';
import { evaluateReport } from '../../src/checks/vulnerabilities.ts';
import { error, fail, pass, type Check } from '../../src/checks/types.ts';
import type { CompiledPolicy } from '../../src/policy/compile.ts';
import type { VulnerabilityReport } from '../../src/facts/vulnerabilities.ts';
import { FactCache, type FactSpec } from '../../src/support/fact-cache.ts';
import { ACCOUNT, ECR, compileText, silentLogger } from '../fixtures/policy.ts';
import { podRequest } from '../helpers/harness.ts';
import type { AdmissionRequest } from '../../src/admission/codec.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { trackCall } from '../../src/support/pending-calls.ts';

const START = Date.parse('2027-03-01T09:30:00Z');
const DAY = 86_400_000;
const IMAGES = [`${ECR}/app-0:v1`, `${ECR}/app-1:v1`, `${ECR}/app-2:v2`, 'registry.k8s.io/pause:3.10', 'docker.io/library/nginx:1'];
const NAMESPACES = ['team-a', 'batch-x', 'team-b'];
const CVES = ['CVE-2027-0001', 'CVE-2027-0002', 'CVE-2027-0003'];

function policyText(variant: number): string {
  const exceptions = [
    [`{ id: CVE-2027-0001, images: ["${ECR}/app-0:*"], expires: "2027-03-04", reason: r }`],
    [
      `{ id: cve-2027-0001, images: ["${ECR}/*"], expires: "2027-03-09", reason: r }`,
      `{ id: CVE-2027-0002, images: ["${ECR}/app-1:*"], expires: "2027-03-02", reason: r }`,
    ],
    [],
  ][variant % 3]!;
  const override =
    variant % 2 === 0
      ? `overrides:\n  - { name: batch-warn, namespaces: ["batch-*"], images: ["*"], mode: warn }\n`
      : `overrides:\n  - { name: app1-audit, images: ["${ECR}/app-1:*"], mode: audit }\n`;
  return `mode: enforce
onError: deny
registries:
  ecr:
    - accountId: "${ACCOUNT}"
  allow: ["registry.k8s.io/pause:*"]
checks:
  vulnerabilities:
    denySeverities: [HIGH, CRITICAL]
    exceptions: [${exceptions.join(', ')}]
${override}`;
}
// Policy 4 requires pinned images on Pods (pinning.requireOnPods): the decision then depends on
// the request's kind, which the decision memo's key must carry.
const POLICIES = [...[0, 1, 2, 3].map(policyText), `${policyText(1)}pinning:\n  requireOnPods: true\n`];

class NotFound extends Error {}

/** The changing world the facts are read from, and the clock. */
class World {
  now = START;
  readonly tags = new Map<string, string>(IMAGES.slice(0, 3).map((image, i) => [image, `sha256:${String(i).repeat(64)}`]));
  // app-0 and app-1 start with findings the policies' exceptions waive (and warn about).
  readonly findings = new Map<string, string[]>([
    [`sha256:${'0'.repeat(64)}`, ['CVE-2027-0001']],
    [`sha256:${'1'.repeat(64)}`, ['CVE-2027-0002']],
  ]);
  moves = 0;

  report(digest: string): VulnerabilityReport {
    return {
      scanning: 'ENHANCED',
      via: 'inspector',
      manifests: [{ digest, state: 'SCANNED' }],
      findings: (this.findings.get(digest) ?? []).map((id) => ({ id, severity: 'HIGH', packages: [{ name: 'openssl', version: '3.0.1' }], digest })),
      truncated: false,
      repositoryCovered: true,
    };
  }
}

const TAG: FactSpec<string> = { fact: 'tag', ttlMs: () => 60_000, negativeTtlMs: (err) => (err instanceof NotFound ? 10_000 : undefined) };
const REPORT: FactSpec<VulnerabilityReport> = { fact: 'report', ttlMs: () => 30_000 };

function checksOf(world: World, cache: FactCache): Check[] {
  const digest: Check = {
    id: 'digest',
    needs: ['origin'],
    enabled: (_policy, image) => image.managed,
    async run({ image, signal }) {
      try {
        const found = await cache.get(
          TAG,
          image.ref.normalized,
          () => {
            const d = world.tags.get(image.ref.normalized);
            return d === undefined ? Promise.reject(new NotFound('no such tag')) : Promise.resolve(d);
          },
          signal,
          1000,
        );
        return pass('digest', { resolved: { digest: found, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1000 }, reason: `is ${found}` });
      } catch (err) {
        if (err instanceof NotFound) return fail('digest', 'tag not found', 'Push it.');
        throw err;
      }
    },
  };
  const vulnerabilities: Check = {
    id: 'vulnerabilities',
    needs: ['digest'],
    enabled: (policy, image) => policy.checks.vulnerabilities !== undefined && image.managed,
    async run({ image, policy, signal, now }) {
      const resolved = image.resolved!;
      const report = await cache.get(REPORT, resolved.digest, () => Promise.resolve(world.report(resolved.digest)), signal, 1000);
      return evaluateReport(report, policy.checks.vulnerabilities!, policy.vulnerabilityExceptions ?? [], image.ref.normalized, now, image.ecr!);
    },
  };
  return [originCheck, digest, vulnerabilities];
}

/** A reviewer's dependencies over this world and cache, for the policy `policy()` returns. */
function depsOf(world: World, cache: FactCache, policy: () => CompiledPolicy) {
  return { policy, checks: checksOf(world, cache), budgetMs: 2000, logger: silentLogger, now: () => new Date(world.now) };
}

/** Counts the answers the memo gave, so the property is known to have exercised it. */
class CountingMemo extends CheckMemo {
  hits = 0;
  override lookup(policy: CompiledPolicy, namespace: string, image: string): ImageVerdict | undefined {
    const found = super.lookup(policy, namespace, image);
    if (found) this.hits++;
    return found;
  }
}

/** How many ways of sending one list of images shaped() knows. */
const SHAPES = 5;

/** Counts the whole decisions the decision memo gave. */
class CountingDecisionMemo extends DecisionMemo {
  hits = 0;
  override lookup(...args: Parameters<DecisionMemo['lookup']>): RememberedDecision | undefined {
    const found = super.lookup(...args);
    if (found) this.hits++;
    return found;
  }
}

type Action =
  | { readonly kind: 'admit'; readonly namespace: number; readonly images: readonly number[]; readonly shape: number; readonly name: number }
  | { readonly kind: 'again'; readonly name: number; readonly shape: number }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'before-midnight'; readonly ms: number }
  | { readonly kind: 'reload'; readonly policy: number }
  | { readonly kind: 'move-tag'; readonly image: number }
  | { readonly kind: 'findings'; readonly image: number; readonly cves: readonly number[] };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('admit' as const),
      namespace: fc.nat(NAMESPACES.length - 1),
      images: fc.array(fc.nat(IMAGES.length - 1), { minLength: 1, maxLength: 3 }),
      shape: fc.nat(SHAPES - 1),
      name: fc.nat(2),
    }),
  },
  // The same images again (a rollout: one template, many Pods), mostly sent the same way, under
  // the same name or another: whole decisions come back, and must answer only requests that
  // differ in nothing they read (a denial names its object, requireOnPods reads the kind).
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('again' as const), name: fc.nat(2), shape: fc.oneof(fc.constant(-1), fc.nat(SHAPES - 1)) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.constantFrom(1, 1000, 10_000, 29_999, 30_000, 59_999, 61_000, 6 * 3600_000, DAY, 2 * DAY + 14 * 3600_000),
    }),
  },
  // Exceptions end, and their warnings count down, at midnight UTC: facts (30 s, 60 s) are
  // still fresh when the clock crosses it from a few seconds before.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('before-midnight' as const), ms: fc.constantFrom(1, 5000, 20_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reload' as const), policy: fc.nat(POLICIES.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('move-tag' as const), image: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('findings' as const), image: fc.nat(2), cves: fc.subarray([0, 1, 2]) }) },
);

/** The ways one list of images reaches the webhook: a Pod or a Deployment, containers named
 *  c0, c1... or the other way round, or init containers; under a few names (a denial names the
 *  object: the decision memo must not answer one object with another's). */
function shaped(request: AdmissionRequest, shape: number, name: number): AdmissionRequest {
  const pod = request.object as { spec: { containers: Array<{ name: string; image: string }> } };
  const containers = pod.spec.containers;
  const objectName = `web-${name}`;
  switch (shape) {
    case 1:
      return {
        ...request,
        name: objectName,
        object: { ...pod, spec: { containers: containers.map((c, i) => ({ ...c, name: `c${containers.length - 1 - i}` })) } },
      };
    case 2:
      return { ...request, name: objectName, object: { ...pod, spec: { initContainers: containers, containers: [{ name: 'main', image: IMAGES[3]! }] } } };
    case 3:
      return {
        ...request,
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        name: objectName,
        object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: objectName }, spec: { template: { spec: pod.spec } } },
      };
    case 4:
      // The same names and images as shape 2, all of them containers.
      return { ...request, name: objectName, object: { ...pod, spec: { containers: [...containers, { name: 'main', image: IMAGES[3]! }] } } };
    default:
      return { ...request, name: objectName };
  }
}

const withoutDuration = (key: string, value: unknown) => (key === 'durationMs' ? undefined : value);

/** Plays the actions; answers the first admission whose two answers differ, or the memo's hits. */
async function play(
  startPolicy: number,
  actions: readonly Action[],
  counted: { hits: number; decisionHits: number; admissions: number },
): Promise<string | undefined> {
  const world = new World();
  const cache = new FactCache({ maxEntries: 1000, now: () => world.now });
  const memo = new CountingMemo({ maxEntries: 100, now: () => world.now });
  let policy = compileText(POLICIES[startPolicy]!);
  const deps = depsOf(world, cache, () => policy);
  const decisions = new CountingDecisionMemo();
  const withMemo: Reviewer = createReviewer({ ...deps, memo, decisions });
  const without: Reviewer = createReviewer(deps);
  let step = 0;
  let last: Extract<Action, { kind: 'admit' }> | undefined;
  for (const played of actions) {
    step++;
    const a = played.kind === 'again' ? last && { ...last, name: played.name, shape: played.shape < 0 ? last.shape : played.shape } : played;
    if (a === undefined) continue;
    switch (a.kind) {
      case 'advance':
        world.now += a.ms;
        break;
      case 'before-midnight':
        world.now = Math.ceil((world.now + 1) / DAY) * DAY - a.ms;
        break;
      case 'reload':
        policy = compileText(POLICIES[a.policy]!);
        break;
      case 'move-tag':
        world.tags.set(IMAGES[a.image]!, `sha256:${(++world.moves).toString(16).padStart(64, 'f')}`);
        break;
      case 'findings':
        world.findings.set(
          world.tags.get(IMAGES[a.image]!)!,
          a.cves.map((i) => CVES[i]!),
        );
        break;
      case 'admit': {
        last = a;
        const request = shaped(
          podRequest(
            a.images.map((i) => IMAGES[i]!),
            NAMESPACES[a.namespace],
          ),
          a.shape,
          a.name,
        );
        const remembered = await withMemo.review(request);
        const checked = await without.review(request);
        counted.admissions++;
        // The response and what the log line is built from (outcome.images; a check's duration
        // is when it ran, not what it found).
        const seen = JSON.stringify({ result: remembered.result, response: remembered.response, images: remembered.images }, withoutDuration);
        const expected = JSON.stringify({ result: checked.result, response: checked.response, images: checked.images }, withoutDuration);
        if (seen !== expected) return `step ${step}: with the memo ${seen}\nwithout it ${expected}`;
        break;
      }
    }
  }
  counted.hits += memo.hits;
  counted.decisionHits += decisions.hits;
  return undefined;
}

t.test('decisions with the memo equal decisions without it, whatever happens between admissions', async (t) => {
  const counted = { hits: 0, decisionHits: 0, admissions: 0 };
  await fc.assert(
    fc.asyncProperty(fc.nat(POLICIES.length - 1), fc.array(action, { minLength: 1, maxLength: 40 }), async (start, actions) => {
      const difference = await play(start, actions, counted);
      if (difference !== undefined) throw new Error(difference);
    }),
    { numRuns: 300, seed: 18 },
  );
  t.ok(counted.admissions > 500, `${counted.admissions} admissions compared`);
  // Not a vacuous equality: a good share of the answers came from the memo.
  t.ok(counted.hits > counted.admissions / 10, `${counted.hits} answers of ${counted.admissions} came from the memo`);
  t.ok(counted.decisionHits >= 20, `${counted.decisionHits} whole decisions came from the decision memo`);
});

t.test('a remembered decision answers only requests that differ in nothing decide() reads', async (t) => {
  const world = new World();
  const cache = new FactCache({ maxEntries: 1000, now: () => world.now });
  // Policy 4: requireOnPods, so a Pod of tags is denied where a Deployment of the same is not.
  const policy = compileText(POLICIES[4]!);
  const deps = depsOf(world, cache, () => policy);
  const decisions = new CountingDecisionMemo();
  const withMemo = createReviewer({ ...deps, memo: new CheckMemo({ maxEntries: 100, now: () => world.now }), decisions });
  const without = createReviewer(deps);
  const both = async (request: AdmissionRequest) => {
    const remembered = await withMemo.review(request);
    const checked = await without.review(request);
    t.equal(
      JSON.stringify({ r: remembered.response, i: remembered.images }, withoutDuration),
      JSON.stringify({ r: checked.response, i: checked.images }, withoutDuration),
      `${request.kind.kind} ${request.name ?? ''}: the same answer with and without the memos`,
    );
    return remembered;
  };
  const images = [IMAGES[0]!, IMAGES[1]!];
  for (let i = 0; i < 3; i++) t.not((await both(shaped(podRequest(images), 3, 0))).result, 'deny', 'the Deployment is allowed');
  t.equal(decisions.hits, 1, 'its third admission came whole from the decision memo');
  t.equal((await both(shaped(podRequest(images), 0, 0))).result, 'deny', 'a Pod of the same containers is denied: its tags are not pinned');
  t.equal((await both(shaped(podRequest(images), 1, 0))).result, 'deny', 'containers renamed: decided again');
  // A finding no exception waives, once the report (30 s) is read again: the image's results
  // change, and the decision folded from the old ones is not answered any more.
  world.findings.set(world.tags.get(IMAGES[0]!)!, ['CVE-2027-0003']);
  world.now += 30_001;
  for (let i = 0; i < 3; i++) t.equal((await both(shaped(podRequest(images), 3, 0))).result, 'deny', 'the Deployment is denied now');
  // Shapes 2 and 4: the same names and images, as init containers or not.
  for (let i = 0; i < 3; i++) await both(shaped(podRequest([IMAGES[3]!]), 2, 0));
  const hits = decisions.hits;
  const other = await both(shaped(podRequest([IMAGES[3]!]), 4, 0));
  t.equal(decisions.hits, hits, 'the same names and images as other kinds of container: not the same decision');
  t.equal(other.images[0]!.container.containerKind, 'container');
  t.equal(decisions.hits, hits);
});

t.test("the decision memo's memory is bounded by what its entries hold, not only by their count", async (t) => {
  // A requester who varies container names fills the memo with large entries: 16 containers
  // of 253-character names (the API server's limit), each request a new key.
  const world = new World();
  const cache = new FactCache({ maxEntries: 1000, now: () => world.now });
  const policy = compileText(POLICIES[2]!);
  const decisions = new CountingDecisionMemo();
  const reviewer = createReviewer({ ...depsOf(world, cache, () => policy), memo: new CheckMemo({ maxEntries: 100, now: () => world.now }), decisions });
  const images = Array.from({ length: 16 }, () => IMAGES[2]!); // app-2: no findings
  let allowed = 0;
  for (let n = 0; n < 600; n++) {
    const request = podRequest(images);
    const pod = request.object as { spec: { containers: Array<{ name: string; image: string }> } };
    pod.spec.containers = pod.spec.containers.map((c, i) => ({ ...c, name: `${String(n).padStart(4, '0')}-${i}-`.padEnd(253, 'x') }));
    if ((await reviewer.review(request)).response.allowed) allowed++;
  }
  t.equal(allowed, 600, 'every request allowed (so each decision may be kept)');
  const held = decisions.heldChars(policy);
  t.ok(held > 100_000, `the memo holds decisions (${held} characters)`);
  t.ok(held <= 1024 * 1024, `at most 1 Mi characters held (${held}), where 600 entries of this size hold about 9 Mi`);
});

t.test('a remembered answer ends at an exception expiry and on each day of its warning', async (t) => {
  const world = new World();
  world.findings.set(world.tags.get(IMAGES[0]!)!, ['CVE-2027-0001']);
  const cache = new FactCache({ maxEntries: 100, now: () => world.now });
  const memo = new CountingMemo({ maxEntries: 100, now: () => world.now });
  // The exception waives CVE-2027-0001 on app-0 until the end of 2027-03-04 (UTC).
  const policy = compileText(POLICIES[0]!);
  const reviewer = createReviewer({
    policy: () => policy,
    checks: checksOf(world, cache),
    budgetMs: 2000,
    logger: silentLogger,
    now: () => new Date(world.now),
    memo,
  });
  // Facts that never expire within the test: only the clock's effect on exceptions is left.
  const keepFresh = () => {
    cache.clear();
  };
  const first = await reviewer.review(podRequest([IMAGES[0]!]));
  t.equal(first.result, 'warn', 'waived, with the warning of an exception ending within 7 days');
  t.match(first.response.warnings, [/expires 2027-03-04 \(in 3 days\)/]);
  t.equal((await reviewer.review(podRequest([IMAGES[0]!]))).result, 'warn');
  t.equal(memo.hits, 1, 'the second admission came from the memo');
  // 2027-03-02T00:00Z: two days left. Facts refreshed meanwhile would end the memo anyway, so
  // the cache is emptied and refilled first: what ends the memo here is the day boundary.
  world.now = Date.parse('2027-03-02T12:00:00Z');
  keepFresh();
  const hitsBefore = memo.hits;
  const day2 = await reviewer.review(podRequest([IMAGES[0]!]));
  t.equal(memo.hits, hitsBefore, 'not from the memo across the day boundary');
  t.match(day2.response.warnings, [/\(in 2 days\)/]);
  world.now = Date.parse('2027-03-05T00:00:00Z');
  keepFresh();
  const expired = await reviewer.review(podRequest([IMAGES[0]!]));
  t.equal(expired.result, 'deny', 'the exception has expired: the finding denies');
  t.match(expired.response.status?.message, /expired on 2027-03-04/);
});

t.test('a check in error is never remembered', async (t) => {
  const world = new World();
  const cache = new FactCache({ maxEntries: 100, now: () => world.now });
  const memo = new CountingMemo({ maxEntries: 100, now: () => world.now });
  const policy = compileText(POLICIES[2]!);
  let failing = true;
  const flaky: Check = {
    id: 'immutability',
    needs: [],
    enabled: (_p, image) => image.managed,
    run: () => Promise.resolve(failing ? error('immutability', 'AWS throttled') : pass('immutability')),
  };
  const reviewer = createReviewer({
    policy: () => policy,
    checks: [...checksOf(world, cache), flaky],
    budgetMs: 2000,
    logger: silentLogger,
    now: () => new Date(world.now),
    memo,
  });
  t.equal((await reviewer.review(podRequest([IMAGES[2]!]))).result, 'deny', 'onError: deny');
  failing = false;
  t.equal((await reviewer.review(podRequest([IMAGES[2]!]))).result, 'allow', 'asked again, not remembered');
  t.equal(memo.hits, 0);
  t.equal((await reviewer.review(podRequest([IMAGES[2]!]))).result, 'allow');
  t.equal(memo.hits, 1, 'a clean answer is remembered');
});

t.test('a remembered answer ends when a fact behind it is evicted or replaced', async (t) => {
  const world = new World();
  const cache = new FactCache({ maxEntries: 2, now: () => world.now });
  const memo = new CountingMemo({ maxEntries: 100, now: () => world.now });
  const policy = compileText(POLICIES[2]!);
  const reviewer = createReviewer({
    policy: () => policy,
    checks: checksOf(world, cache),
    budgetMs: 2000,
    logger: silentLogger,
    now: () => new Date(world.now),
    memo,
  });
  const digestOf = async (image: string) => (await reviewer.review(podRequest([image]))).images[0]?.digest;
  t.equal(await digestOf(IMAGES[0]!), world.tags.get(IMAGES[0]!));
  t.equal(await digestOf(IMAGES[0]!), world.tags.get(IMAGES[0]!));
  t.equal(memo.hits, 1);
  // The tag moves; app-1's two facts fill the cache of two and evict app-0's.
  world.tags.set(IMAGES[0]!, `sha256:${'a'.repeat(64)}`);
  await digestOf(IMAGES[1]!);
  t.equal(await digestOf(IMAGES[0]!), `sha256:${'a'.repeat(64)}`, 'read again, not remembered');
  t.equal(memo.hits, 1);
  // Replaced: the report's TTL (30 s) runs out before the tag's (60 s) and is loaded again.
  const big = new FactCache({ maxEntries: 100, now: () => world.now });
  const memo2 = new CountingMemo({ maxEntries: 100, now: () => world.now });
  const again = createReviewer({
    policy: () => policy,
    checks: checksOf(world, big),
    budgetMs: 2000,
    logger: silentLogger,
    now: () => new Date(world.now),
    memo: memo2,
  });
  const digest = world.tags.get(IMAGES[2]!)!;
  t.equal((await again.review(podRequest([IMAGES[2]!]))).result, 'allow');
  world.findings.set(digest, ['CVE-2027-0003']);
  world.now += 29_999;
  t.equal((await again.review(podRequest([IMAGES[2]!]))).result, 'allow', 'the report is still fresh');
  t.equal(memo2.hits, 1);
  world.now += 1;
  t.equal((await again.review(podRequest([IMAGES[2]!]))).result, 'deny', 'the report was read again and has the finding');
  t.equal(memo2.hits, 1);
});

t.test('a remembered answer ends when an AWS event drops a fact behind it, or the cache is cleared', async (t) => {
  const world = new World();
  const cache = new FactCache({ maxEntries: 100, now: () => world.now });
  const memo = new CountingMemo({ maxEntries: 100, now: () => world.now });
  const policy = compileText(POLICIES[2]!);
  const reviewer = createReviewer({ ...depsOf(world, cache, () => policy), memo });
  // What the image's results say of the new finding: "seen" once its report is read again.
  const verdict = async (image: string) =>
    JSON.stringify((await reviewer.review(podRequest([image]))).images[0]?.results).includes('CVE-2027-0007') ? 'seen' : 'unseen';
  for (const [image, forget] of [
    [IMAGES[0]!, () => t.equal(cache.drop((fact, key) => fact === REPORT.fact && key === world.tags.get(IMAGES[0]!)).length, 1, 'one fact dropped')],
    [IMAGES[1]!, () => cache.clear()],
  ] as const) {
    const hits = memo.hits;
    t.equal(await verdict(image), 'unseen');
    world.findings.set(world.tags.get(image)!, ['CVE-2027-0007']);
    t.equal(await verdict(image), 'unseen', 'remembered: its facts are still fresh');
    t.equal(memo.hits, hits + 1);
    forget();
    t.equal(await verdict(image), 'seen', 'asked again once the fact is gone, and the finding is seen');
    t.equal(memo.hits, hits + 1, 'not answered from the memo');
  }
});

t.test('remembered answers count as cache events of the fact "check-results"', async (t) => {
  const world = new World();
  const metrics = createMetrics();
  const cache = new FactCache({ maxEntries: 100, now: () => world.now, metrics });
  const memo = new CheckMemo({ maxEntries: 100, now: () => world.now, metrics });
  const policy = compileText(POLICIES[2]!);
  const reviewer = createReviewer({
    policy: () => policy,
    checks: checksOf(world, cache),
    budgetMs: 2000,
    logger: silentLogger,
    now: () => new Date(world.now),
    memo,
    metrics,
  });
  for (let i = 0; i < 3; i++) await reviewer.review(podRequest([IMAGES[2]!]));
  const text = await metrics.registry.metrics();
  t.match(text, /^ecr_admission_cache_events_total\{fact="check-results",event="miss"\} 1$/m);
  t.match(text, /^ecr_admission_cache_events_total\{fact="check-results",event="hit"\} 2$/m);
  t.match(text, /^ecr_admission_cache_events_total\{fact="tag",event="miss"\} 1$/m, 'the facts were read once');
  // Remembered or not, an admission counts each distinct image's results once (the same image
  // in two containers once), whether the decision memo answers or decide() runs.
  for (let i = 0; i < 3; i++) await reviewer.review(podRequest([IMAGES[2]!, IMAGES[2]!]));
  const counts = [...(await metrics.registry.metrics()).matchAll(/^ecr_admission_check_results_total\{check="([^"]+)",status="([^"]+)"\} (\d+)$/gm)];
  t.ok(counts.length >= 2, `results of several checks counted (${counts.map((m) => m[1]).join(', ')})`);
  for (const [, check, status, n] of counts) t.equal(Number(n), 6, `${check} ${status}: once per admission, six admissions`);
});

t.test('an answer built on an AWS call the fact cache does not keep is never remembered', async (t) => {
  const world = new World();
  const cache = new FactCache({ maxEntries: 100, now: () => world.now });
  const memo = new CountingMemo({ maxEntries: 100, now: () => world.now });
  const policy = compileText(POLICIES[2]!);
  let status = 'IN_PROGRESS';
  let asked = 0;
  // Like the signature check wording an unsigned image's denial with DescribeImageSigningStatus:
  // a call made by the check itself, outside any fact-cache load (the SDK middleware tracks it).
  const explained: Check = {
    id: 'immutability',
    needs: [],
    enabled: (_p, image) => image.managed,
    run: () => trackCall('ecr DescribeImageSigningStatus', () => Promise.resolve(fail('immutability', `signing ${status} (${++asked})`))),
  };
  // And a load that makes its call inside the cache is remembered as usual.
  const loaded: Check = {
    id: 'signature',
    needs: [],
    enabled: (_p, image) => image.managed,
    run: async ({ signal }) =>
      pass('signature', {
        reason: await cache.get(TAG, 'loaded', () => trackCall('signer GetRevocationStatus', () => Promise.resolve('checked')), signal, 1000),
      }),
  };
  const reviewer = createReviewer({
    policy: () => policy,
    checks: [...checksOf(world, cache), explained],
    budgetMs: 2000,
    logger: silentLogger,
    now: () => new Date(world.now),
    memo,
  });
  const first = await reviewer.review(podRequest([IMAGES[2]!]));
  status = 'FAILED';
  const second = await reviewer.review(podRequest([IMAGES[2]!]));
  t.equal(memo.hits, 0, 'not remembered');
  t.match(first.response.status?.message, /signing IN_PROGRESS \(1\)/);
  t.match(second.response.status?.message, /signing FAILED \(2\)/, 'asked again');
  const other = createReviewer({
    policy: () => policy,
    checks: [...checksOf(world, cache), loaded],
    budgetMs: 2000,
    logger: silentLogger,
    now: () => new Date(world.now),
    memo,
  });
  await other.review(podRequest([IMAGES[1]!], 'team-b'));
  await other.review(podRequest([IMAGES[1]!], 'team-b'));
  t.equal(memo.hits, 1, 'a call inside a fact-cache load does not stop the answer being remembered');
});
