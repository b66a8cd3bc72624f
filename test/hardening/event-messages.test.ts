// Attacker class: whoever can put messages on the events queue (issue 16). Malformed JSON,
// envelopes that are not EventBridge's, repository names, tags, digests and regions outside
// ECR's syntax, 300 KiB bodies, and events of other services are logged and deleted without an
// AWS call or a cache change; a good event after them is applied.
import t from 'tap';
import { imageDigest } from '../../src/dev/sandbox/index.ts';
import { envelope, handled, pushEvent, setup, v2 } from '../helpers/events-fixture.ts';

t.test('malformed, unknown and hostile messages are logged and deleted; the poller carries on', async (t) => {
  const { sandbox, queue, replica } = await setup(t);
  const r = await replica();
  r.runtime.events!.start();
  const bad = [
    'not json',
    '[]',
    JSON.stringify({ hello: 'world' }),
    pushEvent('../../etc/passwd', '2', imageDigest(v2)),
    pushEvent('app', '2', 'sha256:not-a-digest'),
    pushEvent('app', 'a tag with spaces', imageDigest(v2)),
    envelope(
      'aws.ecr',
      'ECR Image Action',
      { result: 'SUCCESS', 'repository-name': 'app', 'image-digest': imageDigest(v2), 'action-type': 'PUSH' },
      { region: 'mars-1' },
    ),
    envelope('aws.inspector2', 'Inspector2 Finding', { resources: 'all of them' }),
    'x'.repeat(300 * 1024),
  ];
  const ignored = [
    envelope('aws.s3', 'Object Created', { bucket: { name: 'b' } }),
    envelope('aws.ecr', 'ECR Image Action', {
      result: 'FAILURE',
      'repository-name': 'app',
      'image-digest': imageDigest(v2),
      'action-type': 'PUSH',
      'image-tag': '2',
    }),
  ];
  for (const body of [...bad, ...ignored]) sandbox.queues.send(queue, body);
  await handled([r], bad.length + ignored.length);
  t.same(sandbox.queues.depth(queue), { visible: 0, inFlight: 0 }, 'every message deleted, none retried');
  t.equal(await r.metric('ecr_admission_events_total', { outcome: 'malformed' }), bad.length);
  t.equal(await r.metric('ecr_admission_events_total', { outcome: 'ignored' }), ignored.length);
  t.same(
    sandbox.callLog().filter((c) => !c.op.startsWith('sqs:')),
    [],
    'no message made an AWS call',
  );
  sandbox.queues.send(queue, pushEvent('app', '2', imageDigest(v2)));
  await handled([r], bad.length + ignored.length + 1);
  t.equal(await r.metric('ecr_admission_events_total', { kind: 'push', outcome: 'applied' }), 1, 'a good message after them is applied');
});
