// Runs the enabled checks of one image concurrently, each starting as soon as the checks it
// needs have passed, all under the admission's deadline. Whatever a check does (throws, hangs),
// the runner returns one result per enabled check before the deadline.
import { errorMessage } from '../support/errors.ts';
import { PendingCalls, withPendingCalls } from '../support/pending-calls.ts';
import { error, skip, type Check, type CheckContext, type CheckOutcome, type CheckResult } from './types.ts';

function deadlineResult(check: Check, ctx: CheckContext, startedAt: number, calls?: PendingCalls): CheckOutcome {
  const waited = Date.now() - startedAt;
  const pending = calls?.describe() ?? [];
  const on = pending.length > 0 ? `; waiting on ${pending.slice(0, 3).join(', ')}` : '';
  return error(
    check.id,
    `not decided within the admission deadline (waited ${waited} ms${on})`,
    `${pending.length > 0 ? pending[0] : 'AWS'} answered too slowly; retry, and check the network path to AWS (VPC endpoints) if it persists.`,
  );
}

function raceDeadline(check: Check, ctx: CheckContext): Promise<CheckOutcome> {
  const startedAt = Date.now();
  // A check reached after the deadline (its need finished just in time) is not started:
  // it would only begin AWS calls whose answer nobody waits for.
  if (ctx.signal.aborted) return Promise.resolve(deadlineResult(check, ctx, startedAt));
  // Every AWS call the check makes, directly or through a shared load, is recorded here, so
  // the deadline can name the call that did not answer in time.
  const calls = new PendingCalls();
  const work = Promise.resolve().then(() => withPendingCalls(calls, () => check.run(ctx)));
  return new Promise((resolve) => {
    const onAbort = () => resolve(deadlineResult(check, ctx, startedAt, calls));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    work
      .then(
        (result) => resolve(result),
        (err: unknown) => resolve(error(check.id, `internal error: ${errorMessage(err)}`)),
      )
      .finally(() => ctx.signal.removeEventListener('abort', onAbort));
  });
}

export async function runChecks(checks: readonly Check[], ctx: CheckContext): Promise<CheckResult[]> {
  const started = new Map<string, Promise<CheckOutcome>>();
  const enabled = checks.filter((c) => c.enabled(ctx.policy, ctx.image));

  const start = (check: Check): Promise<CheckOutcome> => {
    const existing = started.get(check.id);
    if (existing) return existing;
    const promise = (async (): Promise<CheckOutcome> => {
      for (const need of check.needs) {
        const dep = enabled.find((c) => c.id === need);
        if (!dep) continue;
        const result = await start(dep);
        if (result.status !== 'pass') return skip(check.id, `skipped: ${need} did not pass`);
      }
      const t0 = performance.now();
      const result = await raceDeadline(check, ctx);
      if (result.resolved) ctx.image.resolved = result.resolved;
      if (result.tagMismatch !== undefined) ctx.image.tagMismatch = result.tagMismatch;
      return { ...result, durationMs: Math.round((performance.now() - t0) * 10) / 10 };
    })();
    started.set(check.id, promise);
    return promise;
  };

  const outcomes = await Promise.all(enabled.map(start));
  // `resolved` and `tagMismatch` are plumbing between checks, not part of the reported result.
  return outcomes.map(({ resolved: _resolved, tagMismatch: _tagMismatch, ...result }) => result);
}
