// The warm path's counters and histograms (src/support/hot-metrics.ts) must expose exactly what
// prom-client's own would for the same calls: the same series, values, buckets, sums and counts
// in /metrics, at every scrape, including label sets first seen between scrapes, values above
// every bucket, and prom-client's refusals (bad labels, negative or non-finite values).
// Property-based against a plain prom-client metric fed the same calls.
import t from 'tap';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../../src/support/hot-metrics.ts';

// With values chosen to collide in a key that joins them with a separator, and an empty one.
const KINDS = ['Pod', 'Deployment', 'other', '', 'a\u0000', 'a'];
const RESULTS = ['allow', 'deny', 'b', '\u0000b'];
const BUCKETS = [0.001, 0.01, 0.1, 1];

type Call = { readonly scrape: true } | { readonly kind: number; readonly result: number; readonly value: number };

const call: fc.Arbitrary<Call> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ scrape: true as const }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.nat(KINDS.length - 1),
      result: fc.nat(RESULTS.length - 1),
      value: fc.oneof(fc.constantFrom(0, 0.001, 0.0010001, 0.1, 1, 1.5, 10, 1e9), fc.double({ min: 0, max: 2, noNaN: true })),
    }),
  },
);

/** Line for line the same, but for a histogram's _sum: its cells add their values apart, then
 *  to prom-client's sum, so the last bits of a float sum may differ (relative 1e-12). */
function sameExposition(a: string, b: string): boolean {
  const [x, y] = [a.split('\n'), b.split('\n')];
  return (
    x.length === y.length &&
    x.every((line, i) => {
      const other = y[i]!;
      if (line === other) return true;
      const [name, value] = line.split(' ');
      const [otherName, otherValue] = other.split(' ');
      return name === otherName && name!.includes('_sum') && Math.abs(Number(value) - Number(otherValue)) <= 1e-12 * Math.max(1, Math.abs(Number(otherValue)));
    })
  );
}

function pair() {
  const hot = new Registry();
  const plain = new Registry();
  const counters = [
    new HotCounter({ name: 'c_total', help: 'h', labelNames: ['kind', 'result'], registers: [hot] }),
    new Counter({ name: 'c_total', help: 'h', labelNames: ['kind', 'result'], registers: [plain] }),
  ] as const;
  const histograms = [
    new HotHistogram({ name: 'd_seconds', help: 'h', labelNames: ['kind'], buckets: BUCKETS, registers: [hot] }),
    new Histogram({ name: 'd_seconds', help: 'h', labelNames: ['kind'], buckets: BUCKETS, registers: [plain] }),
  ] as const;
  return { hot, plain, counters, histograms };
}

t.test('the same exposition as prom-client at every scrape, whatever the calls', async (t) => {
  let scrapes = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 60 }), async (calls) => {
      const { hot, plain, counters, histograms } = pair();
      for (const c of [...calls, { scrape: true as const }]) {
        if ('scrape' in c) {
          scrapes++;
          const [a, b] = [await hot.metrics(), await plain.metrics()];
          if (!sameExposition(a, b)) throw new Error(`after ${JSON.stringify(calls)}:\n${a}\n---\n${b}`);
          continue;
        }
        // Whole increments, as every counter here is counted (a cell's float sum would round apart).
        for (const counter of counters) counter.inc({ kind: KINDS[c.kind]!, result: RESULTS[c.result]! }, c.kind === 0 ? undefined : Math.floor(c.value));
        for (const histogram of histograms) histogram.observe({ kind: KINDS[c.kind]! }, c.value);
      }
    }),
    { numRuns: 300, seed: 18 },
  );
  t.ok(scrapes > 300, `${scrapes} scrapes compared`);
});

t.test("prom-client's refusals stay: unknown labels, negative and non-finite values", async (t) => {
  const { counters, histograms } = pair();
  const [counter] = counters;
  const [histogram] = histograms;
  counter.inc({ kind: 'Pod', result: 'allow' });
  histogram.observe({ kind: 'Pod' }, 0.5);
  t.throws(() => counter.inc({ kind: 'Pod', result: 'allow' }, -1), /decrease/);
  t.throws(() => counter.inc({ kind: 'Pod', result: 'allow' }, Number.POSITIVE_INFINITY), /not a valid number/);
  t.throws(() => counter.inc({ kind: 'Pod', bogus: 'x' } as never), /bogus/);
  t.throws(() => histogram.observe({ kind: 'Pod' }, Number.POSITIVE_INFINITY), /not a valid number/);
  t.throws(() => histogram.observe({ bogus: 'x' } as never, 1), /bogus/);
  const values = (await counter.get()).values;
  t.same(
    values.map((v) => v.value),
    [1],
    'refused calls count nothing',
  );
});

t.test('reset() empties both the cells and the series', async (t) => {
  const { counters, histograms } = pair();
  const [counter] = counters;
  const [histogram] = histograms;
  for (let i = 0; i < 3; i++) counter.inc({ kind: 'Pod', result: 'allow' });
  for (let i = 0; i < 3; i++) histogram.observe({ kind: 'Pod' }, 0.5);
  counter.reset();
  histogram.reset();
  t.same((await counter.get()).values, []);
  t.same((await histogram.get()).values, []);
  counter.inc({ kind: 'Pod', result: 'allow' }, 2);
  counter.inc({ kind: 'Pod', result: 'allow' }, 3);
  t.same(
    (await counter.get()).values.map((v) => v.value),
    [5],
    'counts again after a reset',
  );
});

t.test('after the first use: unknown labels still refused, remove() and a collect of its own still work', async (t) => {
  const collected: string[] = [];
  const registry = new Registry();
  const counter = new HotCounter({ name: 'r_total', help: 'h', labelNames: ['kind'], registers: [registry], collect: () => void collected.push('counter') });
  const histogram = new HotHistogram({
    name: 'r_seconds',
    help: 'h',
    labelNames: ['kind'],
    buckets: BUCKETS,
    registers: [registry],
    collect: () => void collected.push('histogram'),
  });
  counter.inc({ kind: 'Pod' });
  histogram.observe({ kind: 'Pod' }, 0.5);
  t.throws(() => counter.inc({ kind: 'Pod', bogus: 'x' } as never), /bogus/, 'an extra label after the label set is known');
  t.throws(() => histogram.observe({ kind: 'Pod', bogus: 'x' } as never, 1), /bogus/);
  counter.inc({ kind: 'Pod' }, 2);
  histogram.observe({ kind: 'Pod' }, 0.5);
  counter.remove({ kind: 'Pod' });
  histogram.remove({ kind: 'Pod' });
  t.same((await counter.get()).values, [], 'removed');
  counter.inc({ kind: 'Pod' }, 4);
  histogram.observe({ kind: 'Pod' }, 2);
  histogram.observe({ kind: 'Pod' }, 0.0005);
  t.same(
    (await counter.get()).values.map((v) => v.value),
    [4],
    'counted again after remove()',
  );
  const h = (await histogram.get()).values;
  t.same(
    h.filter((v) => v.metricName === 'r_seconds_count').map((v) => v.value),
    [2],
    'observed again after remove()',
  );
  await registry.metrics();
  t.ok(collected.includes('counter') && collected.includes('histogram'), 'the collect hooks given are called too');
});

// A remembered decision counts a fixed list of label sets again and again through counting()
// (issue 18): the same series as inc() of each, across resets, removes and label sets first
// seen between calls.
type CountingCall =
  | { readonly op: 'scrape' }
  | { readonly op: 'inc'; readonly kind: number; readonly result: number }
  | { readonly op: 'count'; readonly list: number }
  | { readonly op: 'reset' }
  | { readonly op: 'remove'; readonly kind: number; readonly result: number };

const labelSet = fc.record({ kind: fc.nat(KINDS.length - 1), result: fc.nat(RESULTS.length - 1) });
const countingCall: fc.Arbitrary<CountingCall> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ op: 'scrape' as const }) },
  { weight: 3, arbitrary: labelSet.map((l) => ({ op: 'inc' as const, ...l })) },
  { weight: 6, arbitrary: fc.nat(2).map((list) => ({ op: 'count' as const, list })) },
  { weight: 1, arbitrary: fc.constant({ op: 'reset' as const }) },
  { weight: 1, arbitrary: labelSet.map((l) => ({ op: 'remove' as const, ...l })) },
);

t.test('counting() counts what inc() of each label set would, whatever comes between', async (t) => {
  let counts = 0;
  await fc.assert(
    fc.asyncProperty(
      // Three lists of label sets, repeats allowed (two images with the same result).
      fc.array(fc.array(labelSet, { maxLength: 6 }), { minLength: 3, maxLength: 3 }),
      fc.array(countingCall, { minLength: 1, maxLength: 60 }),
      async (lists, calls) => {
        const { hot, plain, counters } = pair();
        const [hotCounter, plainCounter] = counters;
        const labelsOf = (l: { kind: number; result: number }) => ({ kind: KINDS[l.kind]!, result: RESULTS[l.result]! });
        const bound = lists.map((list) => hotCounter.counting(list, labelsOf));
        for (const c of [...calls, { op: 'scrape' as const }]) {
          if (c.op === 'scrape') {
            const [a, b] = [await hot.metrics(), await plain.metrics()];
            if (!sameExposition(a, b)) throw new Error(`after ${JSON.stringify({ lists, calls })}:\n${a}\n---\n${b}`);
          } else if (c.op === 'inc') {
            for (const counter of counters) counter.inc(labelsOf(c));
          } else if (c.op === 'count') {
            counts++;
            bound[c.list]!();
            for (const l of lists[c.list]!) plainCounter.inc(labelsOf(l));
          } else if (c.op === 'reset') {
            for (const counter of counters) counter.reset();
          } else {
            for (const counter of counters) counter.remove(labelsOf(c));
          }
        }
      },
    ),
    { numRuns: 300, seed: 18 },
  );
  t.ok(counts > 500, `${counts} counting() calls compared`);
});

t.test('counting() after a reset counts into the new series, not the cleared cells', async (t) => {
  const { counters } = pair();
  const [counter] = counters;
  const count = counter.counting([0, 1], (i) => ({ kind: 'Pod', result: i === 0 ? 'allow' : 'deny' }));
  count();
  count();
  counter.reset();
  count();
  t.same(
    (await counter.get()).values.map((v) => [v.labels.result, v.value]),
    [
      ['allow', 1],
      ['deny', 1],
    ],
  );
  counter.remove({ kind: 'Pod', result: 'deny' });
  count();
  count();
  t.same(
    (await counter.get()).values.map((v) => [v.labels.result, v.value]),
    [
      ['allow', 3],
      ['deny', 2],
    ],
  );
});
