// Memory under a flood a tenant can cause: pods naming thousands of repositories or tags
// that do not exist. "Not found" is remembered (negative caching, bounded by maxEntries), so
// what each remembered answer costs decides whether a full cache fits the pod's memory limit
// (256 MiB in the chart).
import t from 'tap';
import { startHarness } from '../helpers/harness.ts';
import { fixture, fullPolicy, HOST, runs, settledHeap } from './helpers.ts';

t.test('a flood of distinct missing repositories and tags: each remembered answer stays small', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: fullPolicy(), budgetMs: 5000 });
  t.teardown(() => h.close());
  for (let i = 0; i < 50; i++) await h.reviewPod([`${HOST}/warm-${i}:1`]);
  const entriesBefore = h.runtime.cache.size;
  const checkResultsBefore = h.runtime.memo.size(h.policyStore.current());
  // The sandbox (in this process) logs every call; only the webhook's memory is measured.
  h.sandbox.resetCalls();
  const before = await settledHeap();
  const images = runs(2000);
  for (let i = 0; i < images; i += 50) {
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, j) => h.reviewPod([i % 100 === 0 ? `${HOST}/app:missing-${i + j}` : `${HOST}/missing-${i + j}:1`])),
    );
    if (outcomes.some((o) => o.response.allowed)) throw new Error('a missing image was admitted');
  }
  h.sandbox.resetCalls();
  const after = await settledHeap();
  const entries = h.runtime.cache.size - entriesBefore;
  // Each missing image is remembered twice: its facts' answers in the fact cache (bounded by
  // cache.maxEntries, 10,000) and its check results in the check memo (issue 18, check-memo.ts:
  // one entry per image and namespace, at most 4,096). Both count as remembered answers.
  const checkResults = h.runtime.memo.size(h.policyStore.current()) - checkResultsBefore;
  t.ok(checkResults >= images, `${checkResults} check results remembered`);
  const remembered = entries + checkResults;
  const perEntry = (after - before) / remembered;
  t.ok(entries >= images, `${entries} answers remembered for ${images} missing images`);
  t.comment(
    `heap ${(before / 1048576).toFixed(1)} -> ${(after / 1048576).toFixed(1)} MiB, ${(perEntry / 1024).toFixed(1)} KiB per entry (${entries} facts + ${checkResults} check results)`,
  );
  // Both caches full (10,000 facts and 4,096 check results) at 3 KiB each is 41 MiB (an SDK
  // exception kept with each fact was 13-17 KiB: 168 MiB for the facts alone).
  t.ok(perEntry < 3072, `${(perEntry / 1024).toFixed(1)} KiB per remembered answer (both caches full: ${((perEntry * 14_096) / 1048576).toFixed(0)} MiB)`);

  // The slimmed answer still decides the same way, and says the same thing.
  const again = await h.reviewPod([`${HOST}/missing-1:1`]);
  t.equal(again.response.allowed, false);
  t.match(again.response.status?.message, /\[digest\] repository missing-1 \(111122223333, us-east-1\) does not exist/);
});

t.test('a full cache stays flat: admissions beyond maxEntries do not grow the heap', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: fullPolicy({ extra: 'cache:\n  maxEntries: 500\n' }), budgetMs: 5000 });
  t.teardown(() => h.close());
  let i = 0;
  const round = async (n: number) => {
    for (let k = 0; k < n; k += 50) await Promise.all(Array.from({ length: 50 }, () => h.reviewPod([`${HOST}/flat-${i++}:1`])));
    h.sandbox.resetCalls();
  };
  await round(1000);
  const before = await settledHeap();
  await round(runs(2000));
  const after = await settledHeap();
  t.equal(h.runtime.cache.size, 500, 'the cache is full');
  t.ok(
    after - before < 2 * 1024 * 1024,
    `heap ${(before / 1048576).toFixed(1)} -> ${(after / 1048576).toFixed(1)} MiB over ${i - 1000} more admissions of new images`,
  );
});
