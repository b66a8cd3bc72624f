// The raw wire shapes, checked without the SDK (which would hide them behind its parsers).
import t from 'tap';
import { sandbox, standardFixture } from './helpers.ts';

const AUTH = (region: string, service: string) =>
  `AWS4-HMAC-SHA256 Credential=AKIDSANDBOX/20261128/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=00`;

t.test('ECR JSON 1.1 on the wire', async (t) => {
  const sb = await sandbox(t, standardFixture().fixture);
  const post = (op: string, body: unknown, authorization: string | null = AUTH('us-east-1', 'ecr')) =>
    fetch(`${sb.url}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AmazonEC2ContainerRegistry_V20150921.${op}`,
        ...(authorization ? { authorization } : {}),
      },
      body: JSON.stringify(body),
    });

  const ok = await post('DescribeImages', { repositoryName: 'web', imageIds: [{ imageTag: '1.4.2' }] });
  t.equal(ok.status, 200);
  t.equal(ok.headers.get('content-type'), 'application/x-amz-json-1.1');
  t.ok(ok.headers.get('x-amzn-requestid'));
  const body = (await ok.json()) as { imageDetails: Array<{ imagePushedAt: unknown }> };
  t.equal(body.imageDetails[0]?.imagePushedAt, Date.parse('2026-03-01T10:00:00Z') / 1000, 'timestamps are epoch seconds numbers');

  const missing = await post('DescribeImages', { repositoryName: 'web', imageIds: [{ imageTag: 'nope' }] });
  t.equal(missing.status, 400);
  const err = (await missing.json()) as Record<string, string>;
  t.equal(err.__type, 'ImageNotFoundException');
  t.match(err.message, /imageTag:'nope'.*'web'.*111122223333/);

  const unknown = await post('PutImage', {});
  t.match(await unknown.json(), { __type: 'UnknownOperationException' });
  t.equal(sb.calls('ecr:PutImage'), 1, 'unknown operations are still counted');

  const unsigned = await post('DescribeImages', { repositoryName: 'web' }, null);
  t.match(await unsigned.json(), { __type: 'MissingAuthenticationTokenException' });
  const wrongService = await post('DescribeImages', { repositoryName: 'web' }, AUTH('us-east-1', 'inspector2'));
  t.match(await wrongService.json(), { __type: 'InvalidSignatureException', message: /'ecr'/ });

  const garbage = await fetch(`${sb.url}/`, {
    method: 'POST',
    headers: { 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.DescribeImages', authorization: AUTH('us-east-1', 'ecr') },
    body: '{not json',
  });
  t.match(await garbage.json(), { __type: 'SerializationException' });

  sb.inject('ecr:DescribeImages', { kind: 'throttle', times: 1 });
  const throttled = await post('DescribeImages', { repositoryName: 'web' });
  t.equal(throttled.status, 400);
  t.same(await throttled.json(), { __type: 'ThrottlingException', message: 'Rate exceeded' });
});

t.test('REST-JSON errors carry x-amzn-errortype', async (t) => {
  const sb = await sandbox(t, standardFixture().fixture);
  sb.inject('inspector2:ListFindings', { kind: 'throttle', times: 1, retryAfterSeconds: 3 });
  const r = await fetch(`${sb.url}/findings/list`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: AUTH('us-east-1', 'inspector2') },
    body: '{}',
  });
  t.equal(r.status, 429);
  t.equal(r.headers.get('x-amzn-errortype'), 'ThrottlingException');
  t.equal(r.headers.get('retry-after'), '3');
  t.match(await r.json(), { message: 'Rate exceeded' });

  const bad = await fetch(`${sb.url}/findings/list`, {
    method: 'POST',
    headers: { authorization: AUTH('us-east-1', 'inspector2') },
    body: '{"maxResults": 0}',
  });
  t.equal(bad.status, 400);
  t.equal(bad.headers.get('x-amzn-errortype'), 'ValidationException');
  t.match(await bad.json(), { reason: 'FIELD_VALIDATION_FAILED', message: /maxResults/ });

  const signer = await fetch(`${sb.url}/revocations?platformId=Notation-OCI-SHA384-ECDSA`, { headers: { authorization: AUTH('us-east-1', 'signer') } });
  t.equal(signer.status, 400);
  t.equal(signer.headers.get('x-amzn-errortype'), 'ValidationException');

  const nowhere = await fetch(`${sb.url}/nowhere`);
  t.equal(nowhere.status, 404);
});
