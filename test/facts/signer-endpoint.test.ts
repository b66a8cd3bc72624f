// Issue 22, item 7: a custom Signer endpoint keeps the data-plane route. GetRevocationStatus is
// served by data-signer.<region>.amazonaws.com; with aws.endpoints.signer or
// AWS_ENDPOINT_URL_SIGNER set, it must still reach the data plane: data-<host> for a hostname,
// the data-plane endpoint itself when one is configured, the address itself for an IP.
import t from 'tap';
import { GetRevocationStatusCommand, type SignerClient } from '@aws-sdk/client-signer';
import type { BuildMiddleware } from '@smithy/types';
import { AwsClients } from '../../src/facts/aws-clients.ts';
import { startSandbox, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, SANDBOX_CREDENTIALS } from '../helpers/harness.ts';

const REGION = 'us-east-1';
const input = {
  signatureTimestamp: new Date('2026-05-01T12:00:00Z'),
  platformId: 'Notation-OCI-SHA384-ECDSA',
  profileVersionArn: `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/release/a1B2c3D4e5`,
  jobArn: `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-jobs/0c5d7e1a-1111-2222-3333-444455556666`,
  certificateHashes: ['ab'.repeat(96)],
};
const fixture: SandboxFixture = { defaultAccount: ACCOUNT, accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [] } } } } };

function clientsWith(env: Record<string, string>, endpoints: Record<string, string> = {}): AwsClients {
  return new AwsClients({ env, aws: { endpoints, maxAttempts: 1 }, roleFor: () => undefined, credentials: SANDBOX_CREDENTIALS });
}

class Captured extends Error {}

/** The URL GetRevocationStatus would be sent to: the request is read after the SDK has built
 *  it (endpoint resolved, host prefix applied) and is never sent. */
async function revocationUrl(client: SignerClient): Promise<string> {
  let url = '';
  const capture: BuildMiddleware<object, object> = () => async (args) => {
    const request = args.request as { protocol: string; hostname: string; port?: number; path: string };
    url = `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}${request.path}`;
    throw new Captured('captured, not sent');
  };
  // The stack's add() is typed per step for the client's own input and output types.
  const stack = client.middlewareStack as unknown as {
    add(mw: BuildMiddleware<object, object>, options: { step: 'build'; priority: 'low'; name: string }): void;
    remove(name: string): boolean;
  };
  stack.add(capture, { step: 'build', priority: 'low', name: 'testCaptureRequest' });
  try {
    await client.send(new GetRevocationStatusCommand(input));
  } catch (error) {
    if (!(error instanceof Captured)) throw error;
  } finally {
    stack.remove('testCaptureRequest');
  }
  return url;
}

t.test('a hostname Signer endpoint keeps the data- prefix: revocation reaches the data plane', async (t) => {
  const fromEnv = clientsWith({ AWS_ENDPOINT_URL_SIGNER: `https://signer.${REGION}.amazonaws.com` });
  t.teardown(() => fromEnv.destroy());
  t.equal(await revocationUrl(fromEnv.signer(ACCOUNT, REGION)), `https://data-signer.${REGION}.amazonaws.com/revocations`, 'AWS_ENDPOINT_URL_SIGNER');
  const fromPolicy = clientsWith({}, { signer: `https://signer.${REGION}.amazonaws.com` });
  t.teardown(() => fromPolicy.destroy());
  t.equal(await revocationUrl(fromPolicy.signer(ACCOUNT, REGION)), `https://data-signer.${REGION}.amazonaws.com/revocations`, 'aws.endpoints.signer');
  const none = clientsWith({});
  t.teardown(() => none.destroy());
  t.equal(
    await revocationUrl(none.signer(ACCOUNT, REGION)),
    `https://data-signer.${REGION}.amazonaws.com/revocations`,
    'no endpoint: the SDK default is the data plane',
  );
});

t.test('a data-plane endpoint of its own is used as given (a VPC endpoint DNS name takes no prefix)', async (t) => {
  const vpce = 'https://vpce-0123456789abcdef0-abcdefgh.signer.us-east-1.vpce.amazonaws.com';
  const dataVpce = 'https://vpce-0fedcba9876543210-hgfedcba.data-signer.us-east-1.vpce.amazonaws.com';
  const fromEnv = clientsWith({ AWS_ENDPOINT_URL_SIGNER: vpce, AWS_ENDPOINT_URL_SIGNER_DATA: dataVpce });
  t.teardown(() => fromEnv.destroy());
  t.equal(await revocationUrl(fromEnv.signer(ACCOUNT, REGION)), `${dataVpce}/revocations`, 'AWS_ENDPOINT_URL_SIGNER_DATA');
  const fromPolicy = clientsWith({}, { signer: vpce, signerData: dataVpce });
  t.teardown(() => fromPolicy.destroy());
  t.equal(await revocationUrl(fromPolicy.signer(ACCOUNT, REGION)), `${dataVpce}/revocations`, 'aws.endpoints.signerData');
  const envWins = clientsWith({ AWS_ENDPOINT_URL_SIGNER_DATA: dataVpce }, { signerData: 'https://elsewhere.example' });
  t.teardown(() => envWins.destroy());
  t.equal(await revocationUrl(envWins.signer(ACCOUNT, REGION)), `${dataVpce}/revocations`, 'the variable wins over the policy, as for every other endpoint');
  // Without a data-plane endpoint, a VPC endpoint name gets the prefix like any hostname:
  // the README says to create the data plane's endpoint (or use private DNS).
  const onlyVpce = clientsWith({ AWS_ENDPOINT_URL_SIGNER: vpce });
  t.teardown(() => onlyVpce.destroy());
  t.equal(await revocationUrl(onlyVpce.signer(ACCOUNT, REGION)), `https://data-${new URL(vpce).hostname}/revocations`);
});

t.test('an IP endpoint (the sandbox) takes no prefix: the real SDK reaches a local server', async (t) => {
  const sb = await startSandbox({ fixture });
  t.teardown(() => sb.close());
  const clients = clientsWith({ AWS_ENDPOINT_URL_SIGNER: sb.url });
  t.teardown(() => clients.destroy());
  t.equal(await revocationUrl(clients.signer(ACCOUNT, REGION)), `${sb.url}/revocations`);
  const out = await clients.signer(ACCOUNT, REGION).send(new GetRevocationStatusCommand(input));
  t.same(out.revokedEntities, [], 'the sandbox answered');
  t.equal(sb.calls('signer:GetRevocationStatus'), 1);

  // A data-plane endpoint of its own on loopback: revocation goes there, not to the Signer endpoint.
  const split = clientsWith({ AWS_ENDPOINT_URL_SIGNER: 'http://127.0.0.1:9', AWS_ENDPOINT_URL_SIGNER_DATA: sb.url });
  t.teardown(() => split.destroy());
  const viaData = await split.signer(ACCOUNT, REGION).send(new GetRevocationStatusCommand(input));
  t.same(viaData.revokedEntities, []);
  t.equal(sb.calls('signer:GetRevocationStatus'), 2, 'answered through the data-plane endpoint');
});
