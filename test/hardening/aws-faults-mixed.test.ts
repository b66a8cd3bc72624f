// Many admissions while a share of every AWS call fails in every way at random: a fault can
// turn a check into an error (and onError decides), never into a wrong pass or a wrong fail,
// and once the faults stop every image gets its true answer at once: nothing was remembered
// from a failure.
import fc from 'fast-check';
import t from 'tap';
import { resultOf, startHarness } from '../helpers/harness.ts';
import type { FaultKind } from '../../src/dev/sandbox/index.ts';
import { faultFixture } from './fault-matrix.ts';
import { fullPolicy, HOST, runs } from './helpers.ts';

const BUDGET_MS = 1000;
const IMAGES = {
  good: `${HOST}/app:1.0`,
  unsigned: `${HOST}/app:unsigned`,
  vulnerable: `${HOST}/app:vuln`,
  archived: `${HOST}/app:old`,
  missing: `${HOST}/app:nope`,
} as const;
type Name = keyof typeof IMAGES;

/** What each image's checks may show under faults: the check that makes it bad never passes. */
function wrongUnderFaults(name: Name, results: ReadonlyArray<{ check: string; status: string; reason?: string }>): string | undefined {
  const of = (check: string) => results.find((r) => r.check === check)?.status;
  if (name === 'good' && results.some((r) => r.status === 'fail')) return `a fail: ${JSON.stringify(results)}`;
  if (name === 'unsigned' && of('signature') === 'pass') return 'signature passed';
  if (name === 'vulnerable' && of('vulnerabilities') === 'pass') return 'vulnerabilities passed';
  if ((name === 'archived' || name === 'missing') && of('digest') === 'pass') return 'digest passed';
  return undefined;
}

const KINDS: FaultKind[] = ['throttle', 'server-error', 'unavailable', 'reset', 'access-denied', 'expired-token', 'malformed', 'slow'];

for (const onError of ['deny', 'allow'] as const) {
  t.test(`onError ${onError}: random faults on every call, then none`, async (t) => {
    const h = await startHarness({ fixture: faultFixture(), policy: fullPolicy({ onError }), budgetMs: BUDGET_MS });
    t.teardown(() => h.close());
    for (const kind of KINDS) h.sandbox.inject('*', { kind, probability: 0.04, delayMs: kind === 'slow' ? 1500 : undefined });
    const n = runs(64);
    const names = fc.sample(fc.constantFrom<Name>('good', 'unsigned', 'vulnerable', 'archived', 'missing'), { numRuns: n, seed: onError === 'deny' ? 1 : 2 });
    const problems: string[] = [];
    let errors = 0;
    let slowest = 0;
    for (let i = 0; i < names.length; i += 16) {
      await Promise.all(
        names.slice(i, i + 16).map(async (name) => {
          h.runtime.cache.clear();
          const started = Date.now();
          const out = await h.reviewPod([IMAGES[name]]);
          slowest = Math.max(slowest, Date.now() - started);
          const results = out.images[0]?.results ?? [];
          if (results.some((r) => r.status === 'error')) errors++;
          const wrong = wrongUnderFaults(name, results);
          if (wrong) problems.push(`${name}: ${wrong}`);
          if (name !== 'good' && out.response.allowed && onError === 'deny') problems.push(`${name} admitted under onError deny`);
          if (name === 'good' && !out.response.allowed && onError === 'allow')
            problems.push(`good denied under onError allow: ${out.response.status?.message}`);
        }),
      );
    }
    t.same(problems, [], `${n} admissions under random faults: no wrong pass or fail`);
    t.ok(errors > 0, `${errors} of them met a fault`);
    t.ok(slowest < BUDGET_MS + 750, `slowest decision ${slowest} ms`);

    h.sandbox.clearFaults();
    for (const name of Object.keys(IMAGES) as Name[]) {
      const out = await h.reviewPod([IMAGES[name]]);
      t.equal(out.response.allowed, name === 'good', `after the faults: ${name} ${name === 'good' ? 'admitted' : 'denied'}`);
      const errorsLeft = out.images[0]?.results.filter((r) => r.status === 'error') ?? [];
      t.same(errorsLeft, [], `after the faults: ${name} has no error left over`);
      if (name === 'unsigned') t.equal(resultOf(out, 'signature')?.status, 'fail');
      if (name === 'vulnerable') t.equal(resultOf(out, 'vulnerabilities')?.status, 'fail');
    }
  });
}
