// EventBridge envelopes read into fact events (src/events/envelope.ts): each kind the poller
// acts on, with the shapes of the ECR and Inspector user guides' examples, and what is ignored.
import t from 'tap';
import { parseEvent } from '../../src/events/envelope.ts';

const D = `sha256:${'ab'.repeat(32)}`;
const base = { version: '0', id: 'e1', account: '111122223333', time: '2026-12-04T12:00:00Z', region: 'us-east-1', resources: [] };
const parse = (event: unknown) => parseEvent(JSON.stringify(event));
const image = { accountId: '111122223333', region: 'us-east-1', repository: 'team/web', digest: D };

t.test('ECR Image Action: PUSH with and without a tag, DELETE, a failed action', async (t) => {
  const action = (detail: Record<string, unknown>) => parse({ ...base, source: 'aws.ecr', 'detail-type': 'ECR Image Action', detail });
  const detail = { result: 'SUCCESS', 'repository-name': 'team/web', 'image-digest': D, 'action-type': 'PUSH', 'image-tag': '1.4.2' };
  t.same(action(detail), { event: { kind: 'push', image, tag: '1.4.2' } });
  t.same(action({ ...detail, 'image-tag': '' }), { event: { kind: 'push', image } }, 'an untagged push');
  t.same(action({ ...detail, 'action-type': 'DELETE' }), { event: { kind: 'delete', image, tag: '1.4.2' } });
  t.match(action({ ...detail, result: 'FAILURE' }), { ignored: /did not succeed/ });
  t.match(action({ ...detail, 'action-type': 'REPLICATE' }), { ignored: /REPLICATE/ });
});

t.test('scans: ECR Image Scan (repository name) and Inspector2 Scan (repository ARN)', async (t) => {
  t.same(
    parse({
      ...base,
      source: 'aws.ecr',
      'detail-type': 'ECR Image Scan',
      detail: { 'scan-status': 'COMPLETE', 'repository-name': 'team/web', 'image-digest': D, 'image-tags': [] },
    }),
    { event: { kind: 'scan', image } },
  );
  t.same(
    parse({
      ...base,
      source: 'aws.inspector2',
      'detail-type': 'Inspector2 Scan',
      detail: {
        'scan-status': 'INITIAL_SCAN_COMPLETE',
        'repository-name': 'arn:aws:ecr:eu-west-1:444455556666:repository/team/web',
        'image-digest': D,
        'image-tags': ['1'],
      },
    }),
    { event: { kind: 'scan', image: { ...image, accountId: '444455556666', region: 'eu-west-1' } } },
    'the account and region of the repository ARN, not of the event',
  );
});

t.test('Inspector2 Finding: the ECR images among its resources', async (t) => {
  const finding = (resources: unknown) =>
    parse({ ...base, source: 'aws.inspector2', 'detail-type': 'Inspector2 Finding', detail: { severity: 'CRITICAL', status: 'ACTIVE', resources } });
  const ecr = {
    type: 'AWS_ECR_CONTAINER_IMAGE',
    region: 'us-east-1',
    details: { awsEcrContainerImage: { registry: '111122223333', repositoryName: 'team/web', imageHash: D } },
  };
  t.same(finding([ecr]), { event: { kind: 'finding', images: [image] } });
  t.match(finding([{ type: 'AWS_EC2_INSTANCE', id: 'i-0123' }]), { ignored: /other than an ECR image/ });
  t.match(finding([{ ...ecr, details: {} }]), { malformed: /awsEcrContainerImage/ });
  t.match(finding([{ ...ecr, region: 'us-east-99' }]), { malformed: /region/ });
});

t.test('not an event, too large, another source', async (t) => {
  t.match(parseEvent('{'), { malformed: 'not JSON' });
  t.match(parseEvent('null'), { malformed: 'not an object' });
  t.match(parseEvent(JSON.stringify({ detail: {} })), { malformed: /not an EventBridge event/ });
  t.match(parseEvent(' '.repeat(300 * 1024)), { malformed: /larger than/ });
  t.match(parse({ ...base, source: 'aws.s3', 'detail-type': 'Object Created', detail: {} }), { ignored: /says nothing/ });
  t.match(parse({ ...base, source: 'aws.ecr', 'detail-type': 'ECR Image Action', detail: 'x' }), { malformed: /no detail/ });
});
