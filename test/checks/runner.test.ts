import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { runChecks } from '../../src/checks/runner.ts';
import { fail, pass, type Check, type CheckContext, type CheckId, type CheckOutcome } from '../../src/checks/types.ts';
import { parseImageReference } from '../../src/image/reference.ts';
import { compileText, ECR } from '../fixtures/policy.ts';

const compiled = compileText('mode: enforce\n');

function context(budgetMs = 2000): { ctx: CheckContext; stop: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), budgetMs);
  const ctx: CheckContext = {
    image: { ref: parseImageReference(`${ECR}/web:1`), managed: true },
    policy: compiled.forImage('default', parseImageReference(`${ECR}/web:1`)),
    compiled,
    namespace: 'default',
    signal: controller.signal,
    deadline: Date.now() + budgetMs,
    now: new Date(),
  };
  return { ctx, stop: () => clearTimeout(timer) };
}

function check(id: CheckId, run: (ctx: CheckContext) => Promise<CheckOutcome>, needs: CheckId[] = [], enabled = true): Check {
  return { id, needs, enabled: () => enabled, run };
}

const after = (ms: number, outcome: CheckOutcome) => async () => {
  await sleep(ms);
  return outcome;
};

t.test('independent checks run concurrently', async (t) => {
  const { ctx, stop } = context();
  t.teardown(stop);
  let running = 0;
  let peak = 0;
  const slow = (id: CheckId) =>
    check(id, async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(100);
      running--;
      return pass(id);
    });
  const results = await runChecks([slow('origin'), slow('immutability'), slow('signature'), slow('vulnerabilities')], ctx);
  // Counted, not timed: the machine's load cannot make this flaky.
  t.equal(peak, 4, 'all four were running at once');
  t.same(
    results.map((r) => [r.check, r.status]),
    [
      ['origin', 'pass'],
      ['immutability', 'pass'],
      ['signature', 'pass'],
      ['vulnerabilities', 'pass'],
    ],
    'results in the order of the checks',
  );
  for (const r of results) t.type(r.durationMs, 'number');
});

t.test('a check starts only after the checks it needs have passed, and gets what they resolved', async (t) => {
  const { ctx, stop } = context();
  t.teardown(stop);
  const order: string[] = [];
  const resolved = { digest: `sha256:${'a'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1234 };
  const digest = check(
    'digest',
    async () => {
      order.push('digest:start');
      await sleep(50);
      order.push('digest:end');
      return pass('digest', { resolved });
    },
    ['origin'],
  );
  const origin = check('origin', async () => {
    order.push('origin');
    return pass('origin');
  });
  let seenDigest: string | undefined;
  const signature = check(
    'signature',
    async (c) => {
      order.push('signature');
      seenDigest = c.image.resolved?.digest;
      return pass('signature');
    },
    ['digest'],
  );
  const results = await runChecks([signature, digest, origin], ctx);
  t.same(order, ['origin', 'digest:start', 'digest:end', 'signature']);
  t.equal(seenDigest, resolved.digest, 'the dependent sees the digest the digest check resolved');
  t.equal(ctx.image.resolved?.digest, resolved.digest);
  t.notOk(
    results.some((r) => 'resolved' in r),
    '`resolved` is plumbing, not part of the reported results',
  );
});

t.test('a dependent is skipped when its need fails, errors or is skipped', async (t) => {
  const { ctx, stop } = context();
  t.teardown(stop);
  let ran = false;
  const results = await runChecks(
    [
      check('origin', async () => fail('origin', 'registry evil.com is not allowed')),
      check(
        'digest',
        async () => {
          ran = true;
          return pass('digest');
        },
        ['origin'],
      ),
      check(
        'signature',
        async () => {
          ran = true;
          return pass('signature');
        },
        ['digest'],
      ),
      check('immutability', async () => pass('immutability')),
    ],
    ctx,
  );
  t.notOk(ran, 'neither dependent ran');
  t.same(
    results.map((r) => [r.check, r.status, r.reason]),
    [
      ['origin', 'fail', 'registry evil.com is not allowed'],
      ['digest', 'skip', 'skipped: origin did not pass'],
      ['signature', 'skip', 'skipped: digest did not pass'],
      ['immutability', 'pass', undefined],
    ],
  );
});

t.test('a need that is disabled does not block its dependent; disabled checks report nothing', async (t) => {
  const { ctx, stop } = context();
  t.teardown(stop);
  const results = await runChecks([check('digest', async () => pass('digest'), [], false), check('signature', async () => pass('signature'), ['digest'])], ctx);
  t.same(
    results.map((r) => [r.check, r.status]),
    [['signature', 'pass']],
  );
});

t.test('a throwing check becomes error, sync or async, and the others still report', async (t) => {
  const { ctx, stop } = context();
  t.teardown(stop);
  const results = await runChecks(
    [
      check('origin', async () => pass('origin')),
      {
        id: 'digest',
        needs: [],
        enabled: () => true,
        run: () => {
          throw new TypeError('cannot read properties of undefined');
        },
      },
      check('immutability', async () => {
        await sleep(5);
        throw new Error('boom');
      }),
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a non-Error rejection is the case under test
      check('signature', async () => Promise.reject('a string, not an Error')),
    ],
    ctx,
  );
  t.same(
    results.map((r) => [r.check, r.status, r.reason]),
    [
      ['origin', 'pass', undefined],
      ['digest', 'error', 'internal error: cannot read properties of undefined'],
      ['immutability', 'error', 'internal error: boom'],
      ['signature', 'error', 'internal error: a string, not an Error'],
    ],
  );
});

t.test('a hanging check becomes error at the deadline and the runner returns in time', async (t) => {
  const { ctx, stop } = context(200);
  t.teardown(stop);
  const started = performance.now();
  const results = await runChecks(
    [
      check('origin', async () => pass('origin')),
      check('digest', () => new Promise(() => {}), ['origin']),
      check('signature', async () => pass('signature'), ['digest']),
      check('vulnerabilities', after(50, pass('vulnerabilities'))),
    ],
    ctx,
  );
  const took = performance.now() - started;
  t.ok(took >= 190 && took < 600, `returned after ${Math.round(took)} ms for a 200 ms budget`);
  t.same(
    results.map((r) => [r.check, r.status]),
    [
      ['origin', 'pass'],
      ['digest', 'error'],
      ['signature', 'skip'],
      ['vulnerabilities', 'pass'],
    ],
  );
  t.match(results[1]?.reason, /^not decided within the admission deadline \(waited \d+ ms\)$/);
  t.match(results[1]?.hint, /retry/);
});

t.test('checks started after the deadline are errors at once', async (t) => {
  const { ctx, stop } = context(10);
  t.teardown(stop);
  await sleep(30);
  let ran = false;
  const results = await runChecks(
    [
      check('origin', async () => {
        ran = true;
        return pass('origin');
      }),
    ],
    ctx,
  );
  t.notOk(ran);
  t.equal(results[0]?.status, 'error');
});
