// The sandbox's injected latency is a whole call's round trip, as on AWS, where the service's
// own work is part of it: never less than the latency, the sandbox's own work not added on top
// (bench/'s cold scenario measures the webhook against a chain of calls of exactly this
// latency, issue 18), and the state a call sees is that of its middle, when the request has
// reached the service: neither that of its arrival nor that of its answer.
import t from 'tap';
import { DescribeImagesCommand } from '@aws-sdk/client-ecr';
import { ACCOUNT, clients, sandbox, standardFixture } from './helpers.ts';

const describe = new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageTag: '1.4.2' }] });

/** Keeps the sandbox's thread busy for `ms`, as a slow answer would. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

t.test('a call takes at least its latency, by a precise clock', async (t) => {
  const sb = await sandbox(t, standardFixture().fixture);
  const { ecr } = clients(t, sb);
  sb.setLatency(25);
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    await ecr.send(describe);
    const took = performance.now() - started;
    t.ok(took >= 25, `call ${i + 1} took ${took.toFixed(2)} ms`);
  }
});

t.test("the sandbox's own work is part of the latency, not added to it", async (t) => {
  const sb = await sandbox(t, standardFixture().fixture);
  const { ecr } = clients(t, sb);
  // The latency function runs once the sandbox has answered the call: 100 ms of work there, in
  // a call of 150 ms. Waiting first and answering after took 250 ms or more.
  sb.setLatency(() => {
    busy(100);
    return 150;
  });
  const started = performance.now();
  const r = await ecr.send(describe);
  const took = performance.now() - started;
  t.equal(r.imageDetails?.length, 1);
  t.ok(took >= 150, `never less than the latency (${took.toFixed(1)} ms)`);
  t.ok(took < 240, `the work is inside the latency (${took.toFixed(1)} ms, not 250 or more)`);
});

t.test('a call sees the state of its middle: a change before it is seen, one after it is not', async (t) => {
  const sb = await sandbox(t, standardFixture().fixture);
  const { ecr } = clients(t, sb);
  const tag = (tags: string[]) =>
    sb.update((f) => {
      f.accounts[ACCOUNT]!.regions['us-east-1']!.repositories[0]!.images[0]!.tags = tags;
    });
  // Calls of 1 s, whose middle is 500 ms after they reach the sandbox: changes 150 ms and 850 ms
  // after the call is sent, wide of it on a loaded machine.
  sb.setLatency(1_000);
  const untagSoon = setTimeout(() => tag(['latest']), 150);
  t.teardown(() => clearTimeout(untagSoon));
  await t.rejects(ecr.send(describe), { name: 'ImageNotFoundException' }, 'the tag removed before the middle: not found');
  tag(['1.4.2', 'latest']);
  const untagLate = setTimeout(() => tag(['latest']), 850);
  t.teardown(() => clearTimeout(untagLate));
  const r = await ecr.send(describe);
  t.equal(r.imageDetails?.length, 1, 'the tag removed after the middle: the call had found it');
});
