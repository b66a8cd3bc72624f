import t from 'tap';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { ListFindingsCommand } from '@aws-sdk/client-inspector2';
import { GetRevocationStatusCommand } from '@aws-sdk/client-signer';
import { ACCOUNT, clients, credentials, sandbox, standardFixture } from './helpers.ts';

const describe = new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageTag: '1.4.2' }] });

t.test('throttle once: the SDK really retries and then succeeds', async (t) => {
  const sb = await sandbox(t, standardFixture().fixture);
  const { ecr } = clients(t, sb);
  sb.inject('ecr:DescribeImages', { kind: 'throttle', times: 1 });
  const r = await ecr.send(describe);
  t.equal(r.imageDetails?.length, 1);
  t.equal(sb.calls('ecr:DescribeImages'), 2, 'two calls reached the sandbox');
  t.equal(r.$metadata.attempts, 2, 'the SDK counts two attempts');
  t.same(
    sb.callLog().map((c) => c.status),
    [400, 200],
    'ThrottlingException is a 400 on JSON 1.1',
  );
});

t.test('ECR faults and how the SDK classifies them', async (t) => {
  const sb = await sandbox(t, standardFixture().fixture);
  const { ecr } = clients(t, sb, 'us-east-1', { maxAttempts: 3 });

  t.test('server-error (500) and unavailable (503) are retried', async (t) => {
    sb.resetCalls();
    sb.inject('ecr:DescribeImages', { kind: 'server-error', times: 1 });
    sb.inject('ecr:DescribeImages', { kind: 'unavailable', times: 1 });
    const r = await ecr.send(describe);
    t.equal(r.imageDetails?.length, 1);
    t.same(
      sb.callLog().map((c) => c.status),
      [500, 503, 200],
    );
  });

  t.test('a throttle that never stops exhausts the attempts', async (t) => {
    sb.resetCalls();
    sb.inject('ecr:DescribeRepositories', { kind: 'throttle' });
    await t.rejects(ecr.send(new DescribeRepositoriesCommand({})), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400, attempts: 3 } });
    t.equal(sb.calls('ecr:DescribeRepositories'), 3);
    sb.clearFaults();
    const ok = await ecr.send(new DescribeRepositoriesCommand({}));
    t.equal(ok.repositories?.length, 2, 'clearFaults restores service');
  });

  t.test('access-denied, expired-token, unrecognized-client are not retried', async (t) => {
    for (const [kind, name] of [
      ['access-denied', 'AccessDeniedException'],
      ['expired-token', 'ExpiredTokenException'],
      ['unrecognized-client', 'UnrecognizedClientException'],
    ] as const) {
      sb.resetCalls();
      sb.inject('ecr:DescribeImages', { kind, times: 1 });
      await t.rejects(ecr.send(describe), { name, $metadata: { httpStatusCode: 400 } }, kind);
      t.equal(sb.calls('ecr:DescribeImages'), 1, `${kind}: one call`);
    }
  });

  t.test('reset destroys the connection; the SDK retries it as a network error', async (t) => {
    sb.resetCalls();
    sb.inject('ecr:DescribeImages', { kind: 'reset', times: 1 });
    const r = await ecr.send(describe);
    t.equal(r.imageDetails?.length, 1);
    t.same(
      sb.callLog().map((c) => c.status),
      [0, 200],
      'status 0: no answer was sent',
    );
  });

  t.test('malformed answers are a deserialization error', async (t) => {
    sb.resetCalls();
    sb.inject('ecr:DescribeImages', { kind: 'malformed', times: 1 });
    const err = await ecr.send(describe).then(
      () => undefined,
      (e: unknown) => e as Error & { $metadata?: { httpStatusCode?: number } },
    );
    t.ok(err, 'the call fails');
    t.match(`${err?.name} ${err?.message}`, /JSON|Unexpected|Deserializ/i, 'as unparseable JSON');
    t.equal(sb.calls('ecr:DescribeImages'), 1, 'a 200 that does not parse is not retried');
  });

  t.test('slow answers trip the caller deadline', async (t) => {
    sb.resetCalls();
    sb.inject('ecr:DescribeImages', { kind: 'slow', delayMs: 400, times: 1 });
    const started = Date.now();
    await t.rejects(ecr.send(describe, { abortSignal: AbortSignal.timeout(100) }));
    t.ok(Date.now() - started < 350, 'the caller gave up at its deadline');
    sb.inject('ecr:DescribeImages', { kind: 'slow', delayMs: 150, times: 1 });
    const t0 = Date.now();
    const r = await ecr.send(describe);
    t.equal(r.imageDetails?.length, 1);
    t.ok(Date.now() - t0 >= 140, 'slow, then the normal answer');
  });
});

t.test('Inspector throttling is a 429 with Retry-After, which the SDK honours', async (t) => {
  const sb = await sandbox(t, standardFixture().fixture);
  const { inspector } = clients(t, sb);
  sb.inject('inspector2:ListFindings', { kind: 'throttle', times: 1, retryAfterSeconds: 1 });
  const started = Date.now();
  const r = await inspector.send(new ListFindingsCommand({}));
  t.ok(Array.isArray(r.findings));
  t.equal(sb.calls('inspector2:ListFindings'), 2);
  t.same(
    sb.callLog().map((c) => c.status),
    [429, 200],
  );
  t.ok(Date.now() - started >= 900, 'waited about Retry-After before retrying');

  sb.inject('inspector2:*', { kind: 'access-denied', times: 1 });
  await t.rejects(inspector.send(new ListFindingsCommand({})), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
  sb.inject('inspector2:ListFindings', { kind: 'server-error', times: 1 });
  const after = await inspector.send(new ListFindingsCommand({}));
  t.ok(Array.isArray(after.findings), 'InternalServerException (500) retried');
});

t.test('Signer faults', async (t) => {
  const sb = await sandbox(t, standardFixture().fixture);
  const { signer } = clients(t, sb);
  const cmd = new GetRevocationStatusCommand({
    signatureTimestamp: new Date(),
    platformId: 'Notation-OCI-SHA384-ECDSA',
    profileVersionArn: `arn:aws:signer:us-east-1:${ACCOUNT}:/signing-profiles/prof/abcdefghij`,
    jobArn: `arn:aws:signer:us-east-1:${ACCOUNT}:/signing-jobs/j-1`,
    certificateHashes: ['ab'],
  });
  sb.inject('signer:GetRevocationStatus', { kind: 'throttle', times: 1, retryAfterSeconds: 0 });
  sb.inject('signer:GetRevocationStatus', { kind: 'server-error', times: 1 });
  const r = await signer.send(cmd);
  t.same(r.revokedEntities, []);
  t.same(
    sb.callLog().map((c) => c.status),
    [429, 500, 200],
  );
  sb.inject('*', { kind: 'expired-token', times: 1 });
  await t.rejects(signer.send(cmd), { name: 'ExpiredTokenException', $metadata: { httpStatusCode: 403 } });
});

t.test('probability, times, wildcards and latency', async (t) => {
  let n = 0;
  const sequence = [0.1, 0.9, 0.1, 0.9]; // a deterministic random source
  const sb = await sandbox(t, standardFixture().fixture, { random: () => sequence[n++ % sequence.length]! });
  const ecr = new ECRClient({ endpoint: sb.url, region: 'us-east-1', credentials, maxAttempts: 1 });
  t.teardown(() => ecr.destroy());
  sb.inject('ecr:*', { kind: 'server-error', probability: 0.5 });
  await t.rejects(ecr.send(describe), { name: 'ServerException' }, 'draw 0.1 < 0.5: faulted');
  const ok = await ecr.send(describe);
  t.equal(ok.imageDetails?.length, 1, 'draw 0.9: not faulted');
  sb.clearFaults();
  t.throws(() => sb.inject('*', { kind: 'reset', probability: 2 }), RangeError);

  sb.setLatency((op) => (op === 'ecr:DescribeImages' ? 120 : 0));
  const t0 = Date.now();
  await ecr.send(describe);
  t.ok(Date.now() - t0 >= 110, 'per-operation latency applied');
  const t1 = Date.now();
  await ecr.send(new DescribeRepositoriesCommand({}));
  t.ok(Date.now() - t1 < 100, 'other operations unaffected');
  t.equal(sb.calls('ecr:*'), 4);
  t.equal(sb.calls(), 4);
});
