// The contract floor (bench/procs/contract-floor.ts) replays the webhook's own answer and log
// line with another admission's uid and time spliced in. What it replays must be what the
// webhook would have sent for that admission, or webhook minus floor (bench/warm-ab-full.ts
// --floor) would not be the webhook's own work: checked here against a real answer and log line
// of the webhook app (no AWS: the fixture policy's checks).
import t from 'tap';
import { pino } from 'pino';
import { buildWebhookApp } from '../../src/server/app.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { floorTemplates, type FloorCapture } from '../../bench/procs/contract-floor.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { FIXTURE_POLICY, reviewerFor } from '../fixtures/policy.ts';

async function admit(uid: string): Promise<FloorCapture & { time: number }> {
  const lines: string[] = [];
  const metrics = createMetrics();
  const webhook = buildWebhookApp({
    reviewer: reviewerFor(FIXTURE_POLICY, { metrics }),
    logger: pino({ base: { service: 'ecr-admission' } }, { write: (l: string) => void lines.push(l) }),
    metrics,
  });
  try {
    const review = loadAdmissionReview('deployment-create');
    review.request.uid = uid;
    const res = await webhook.inject({ method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(review) });
    const logLine = lines.map((l) => l.trimEnd()).find((l) => l.includes('"msg":"admission"'));
    if (res.statusCode !== 200 || logLine === undefined) throw new Error(`no admission: HTTP ${res.statusCode}, ${lines.length} log lines`);
    return { answer: res.body, uid, logLine, time: (JSON.parse(logLine) as { time: number }).time };
  } finally {
    await webhook.close();
  }
}

t.test("the floor's answer and log line are the webhook's, for another uid and time", async (t) => {
  const captured = await admit('11111111-aaaa-4bbb-8ccc-000000000001');
  const other = await admit('22222222-aaaa-4bbb-8ccc-000000000002');
  const f = floorTemplates(captured);
  const answer = f.answer[0] + JSON.stringify(other.uid) + f.answer[1];
  t.equal(answer, other.answer, "the answer's bytes for the other admission");
  const line = `${f.logHead}"time":${other.time}${f.logMiddle}"uid":${JSON.stringify(other.uid)}${f.logTail}`;
  const parsed = JSON.parse(line) as Record<string, unknown>;
  const expected = JSON.parse(other.logLine) as Record<string, unknown>;
  // durationMs is the one field that differs between two admissions of the same review.
  t.same({ ...parsed, durationMs: 0 }, { ...expected, durationMs: 0 }, 'the log line for the other admission');
  t.same(
    f.results.map((r) => r.check),
    Object.keys((JSON.parse(captured.logLine) as { images: Array<{ results: Record<string, string> }> }).images[0]!.results),
    'the check results it counts are the admission’s',
  );
});

t.test('a capture that is not one admission is refused', async (t) => {
  const captured = await admit('33333333-aaaa-4bbb-8ccc-000000000003');
  t.throws(() => floorTemplates({ ...captured, answer: captured.answer + JSON.stringify(captured.uid) }), /exactly once/);
  t.throws(() => floorTemplates({ ...captured, uid: 'someone-else' }), /uid exactly once/);
  t.throws(() => floorTemplates({ ...captured, logLine: captured.logLine.replace(captured.uid, 'x') }), /not the captured admission/);
});
