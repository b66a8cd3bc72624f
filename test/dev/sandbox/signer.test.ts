import t from 'tap';
import { createHash } from 'node:crypto';
import { GetRevocationStatusCommand, SignerClient, TooManyRequestsException } from '@aws-sdk/client-signer';
import { FactCache } from '../../../src/support/fact-cache.ts';
import { AwsClients } from '../../../src/facts/aws-clients.ts';
import { fromAwsError } from '../../../src/facts/errors.ts';
import { SignerRevocation } from '../../../src/facts/signer/revocation.ts';
import type { SandboxFixture } from '../../../src/dev/sandbox/index.ts';
import { ACCOUNT, clients, credentials, sandbox } from './helpers.ts';

const PROFILE_V1 = `arn:aws:signer:us-east-1:${ACCOUNT}:/signing-profiles/release/a1B2c3D4e5`;
const PROFILE_V2 = `arn:aws:signer:us-east-1:${ACCOUNT}:/signing-profiles/release/Z9y8X7w6V5`;
const JOB = `arn:aws:signer:us-east-1:${ACCOUNT}:/signing-jobs/0c5d7e1a-1111-2222-3333-444455556666`;
const JOB_REVOKED = `arn:aws:signer:us-east-1:${ACCOUNT}:/signing-jobs/dead0000-1111-2222-3333-444455556666`;
const sha384 = (s: string): string => createHash('sha384').update(s).digest('hex');
// Each entry: hex(SHA-384(tbs)) of a certificate followed by that of the next one in the chain.
const LEAF = sha384('leaf') + sha384('intermediate');
const ROOT = sha384('root') + sha384('root');
const REVOKED_CERT = sha384('revoked-leaf') + sha384('intermediate');

const fixture: SandboxFixture = {
  defaultAccount: ACCOUNT,
  accounts: { [ACCOUNT]: { regions: { 'us-east-1': { repositories: [] } } } },
  revoked: [{ entity: PROFILE_V1, effectiveFrom: '2026-06-01T00:00:00Z' }, JOB_REVOKED, REVOKED_CERT.toUpperCase()],
};

const input = (
  over: Partial<{ signatureTimestamp: Date; platformId: string; profileVersionArn: string; jobArn: string; certificateHashes: string[] }> = {},
) => ({
  signatureTimestamp: new Date('2026-05-01T12:00:00Z'),
  platformId: 'Notation-OCI-SHA384-ECDSA',
  profileVersionArn: PROFILE_V2,
  jobArn: JOB,
  certificateHashes: [LEAF, ROOT],
  ...over,
});

t.test('GetRevocationStatus', async (t) => {
  const sb = await sandbox(t, fixture);
  const { signer } = clients(t, sb);

  const clean = await signer.send(new GetRevocationStatusCommand(input()));
  t.same(clean.revokedEntities, [], 'nothing revoked');

  const job = await signer.send(new GetRevocationStatusCommand(input({ jobArn: JOB_REVOKED })));
  t.same(job.revokedEntities, [JOB_REVOKED]);

  const cert = await signer.send(new GetRevocationStatusCommand(input({ certificateHashes: [REVOKED_CERT, ROOT] })));
  t.same(cert.revokedEntities, [REVOKED_CERT], 'certificate hashes compare case-insensitively');

  const before = await signer.send(new GetRevocationStatusCommand(input({ profileVersionArn: PROFILE_V1 })));
  t.same(before.revokedEntities, [], 'signed before the profile revocation took effect');
  const after = await signer.send(
    new GetRevocationStatusCommand(input({ profileVersionArn: PROFILE_V1, signatureTimestamp: new Date('2026-07-01T00:00:00Z') })),
  );
  t.same(after.revokedEntities, [PROFILE_V1], 'signed after it: revoked');

  const logged = sb.callLog().find((c) => c.op === 'signer:GetRevocationStatus');
  t.match(
    logged?.input,
    { signatureTimestamp: '2026-05-01T12:00:00Z', platformId: 'Notation-OCI-SHA384-ECDSA', certificateHashes: [LEAF, ROOT] },
    'the SDK sends the query parameters the sandbox reads (repeated certificateHashes)',
  );

  sb.update((f) => {
    f.revoked = [...(f.revoked ?? []), PROFILE_V2];
  });
  const revokedNow = await signer.send(new GetRevocationStatusCommand(input()));
  t.same(revokedNow.revokedEntities, [PROFILE_V2], 'update() revokes a profile version');
});

t.test('GetRevocationStatus validation', async (t) => {
  const sb = await sandbox(t, fixture);
  const { signer } = clients(t, sb);
  const bad = async (over: Parameters<typeof input>[0], why: string) => {
    await t.rejects(signer.send(new GetRevocationStatusCommand(input(over))), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } }, why);
  };
  await bad({ certificateHashes: [] }, 'certificateHashes required');
  await bad({ platformId: 'AWSLambda-SHA384-ECDSA' }, 'a platform without revocation checks');
  await bad({ profileVersionArn: 'arn:aws:iam::111122223333:role/x' }, 'not a profile version ARN');
  await bad({ jobArn: 'job-1' }, 'not a job ARN');
  await bad({ certificateHashes: ['not hex'] }, 'hashes are hex');
  await t.rejects(signer.send(new GetRevocationStatusCommand({ platformId: 'Notation-OCI-SHA384-ECDSA' } as never)), {
    name: 'ValidationException',
    message: /signatureTimestamp/,
  });

  const gov = clients(t, sb, 'us-gov-west-1').signer;
  await t.rejects(
    gov.send(new GetRevocationStatusCommand(input())),
    { name: 'ValidationException', message: /partition/ },
    'signatures do not cross partitions',
  );
});

t.test('without disableHostPrefix the SDK would address data-<endpoint host>', async (t) => {
  const sb = await sandbox(t, fixture);
  const prefixed = new SignerClient({ endpoint: sb.url, region: 'us-east-1', credentials, maxAttempts: 1 });
  t.teardown(() => prefixed.destroy());
  await t.rejects(prefixed.send(new GetRevocationStatusCommand(input())), 'data-127.0.0.1 does not resolve');
  t.equal(sb.calls('signer:GetRevocationStatus'), 0, 'the request never reached the sandbox');
});

// Signer's throttling error is TooManyRequestsException, HTTP 429: GetRevocationStatus lists it
// in @throws, and the model gives it httpError 429 (@aws-sdk/client-signer
// dist-types/commands/GetRevocationStatusCommand.d.ts, models/errors.d.ts: "This error
// supersedes the error ThrottlingException", which is deprecated).
t.test('a throttled GetRevocationStatus is TooManyRequestsException (429), retried and classified as throttling', async (t) => {
  const sb = await sandbox(t, fixture);
  const { signer } = clients(t, sb, 'us-east-1', { maxAttempts: 3 });
  sb.inject('signer:GetRevocationStatus', { kind: 'throttle', retryAfterSeconds: 0 });
  const error = await signer.send(new GetRevocationStatusCommand(input())).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(error instanceof TooManyRequestsException, 'the SDK deserialises the modelled error class');
  t.match(error, { name: 'TooManyRequestsException', $fault: 'client', $metadata: { httpStatusCode: 429, attempts: 3 } });
  t.equal(sb.calls('signer:GetRevocationStatus'), 3, 'the SDK retried it as throttling (a client fault it did not take for throttling would be tried once)');
  t.equal(fromAwsError(error, 'signer', 'GetRevocationStatus').code, 'THROTTLED', 'the product names it throttling');

  // Through the product's own Signer fact: the same classification reaches the check.
  sb.resetCalls();
  const awsClients = new AwsClients({ env: sb.endpoints(), aws: { endpoints: {}, maxAttempts: 2 }, roleFor: () => undefined, credentials });
  t.teardown(() => awsClients.destroy());
  const revocation = new SignerRevocation({ clients: awsClients, cache: new FactCache({ maxEntries: 10 }), ttlSeconds: 60 });
  await t.rejects(revocation.revoked(input(), AbortSignal.timeout(10_000), 10_000), {
    name: 'FactError',
    code: 'THROTTLED',
    message: /signer GetRevocationStatus was throttled/,
  });
  t.equal(sb.calls('signer:GetRevocationStatus'), 2, "retried up to the policy's maxAttempts");
  sb.clearFaults();
});
