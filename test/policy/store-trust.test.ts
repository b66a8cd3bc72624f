// Issue 13: the trust stores are read once, when the policy is loaded. A trust store file that
// breaks afterwards changes nothing for admissions (they verify with the trust in memory) and
// refuses the next reload whole, logged and counted; a good file is taken by the reload after.
// Real signatures (AWS Signer-shaped chains), the real runtime, the AWS sandbox through the SDK.
import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createPolicyStore } from '../../src/policy/store.ts';
import { createRuntime } from '../../src/cli/wiring.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { buildAwsSignerShapedChain, type TestChain } from '../../src/dev/notation/testchain.ts';
import { signEnvelope } from '../../src/dev/notation/sign.ts';
import { imageDescriptor, ociImage, startSandbox, type ImageFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, REGION, SANDBOX_CREDENTIALS, podRequest } from '../helpers/harness.ts';

const PROFILE = `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-profiles/release`;
const chainA = await buildAwsSignerShapedChain();
const chainB = await buildAwsSignerShapedChain();

function signedImage(seed: string, chain: TestChain): ImageFixture {
  const image = ociImage({ seed, tags: [seed] });
  const d = imageDescriptor(image);
  const s = signEnvelope({
    format: 'jws',
    target: { digest: d.digest, mediaType: d.mediaType, size: d.size },
    certificates: chain.certificates,
    privateKey: chain.leafKey,
    aws: { profileVersionArn: `${PROFILE}/v1`, jobArn: `arn:aws:signer:${REGION}:${ACCOUNT}:/signing-jobs/${seed}` },
  });
  image.signatures = [{ envelope: s.envelope, envelopeMediaType: s.mediaType }];
  return image;
}

// One image per review that must verify afresh (a cached verdict would prove nothing).
const images = {
  a1: signedImage('a1', chainA),
  a2: signedImage('a2', chainA),
  a3: signedImage('a3', chainA),
  b1: signedImage('b1', chainB),
  b2: signedImage('b2', chainB),
};

t.test('a trust store that breaks after load: admissions keep the loaded trust, the reload is refused whole, a good file is taken', async (t) => {
  const sandbox = await startSandbox({
    fixture: {
      defaultAccount: ACCOUNT,
      accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: 'app', tagMutability: 'IMMUTABLE', images: Object.values(images) }] } } } },
    },
  });
  t.teardown(() => sandbox.close());
  const dir = t.testdir({ 'root.pem': chainA.rootPem });
  const rootPath = join(dir, 'root.pem');
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(
    policyPath,
    `mode: enforce
onError: deny
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
checks:
  signature:
    trustStores:
      - { type: signingAuthority, path: ${rootPath} }
    trustedIdentities: ["${PROFILE}"]
`,
  );
  const logged: Array<{ msg?: string; err?: string }> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logged.push(JSON.parse(chunk.toString()) as { msg?: string });
        done();
      },
    }),
  );
  const metrics = createMetrics();
  const store = createPolicyStore({ path: policyPath, logger, metrics });
  const runtime = createRuntime({ policyStore: store, logger, metrics, budgetMs: 5000, env: sandbox.endpoints(), credentials: SANDBOX_CREDENTIALS });
  t.teardown(() => runtime.close());
  const review = async (tag: string) => {
    const listed = sandbox.calls('ecr:ListImageReferrers');
    const outcome = await runtime.reviewer.review(podRequest([`${HOST}/app:${tag}`]));
    t.ok(sandbox.calls('ecr:ListImageReferrers') > listed, `${tag}: its signatures were fetched and verified, not taken from a cached verdict`);
    return outcome.response;
  };
  const reloads = async () => Object.fromEntries((await metrics.policyReloads.get()).values.map((v) => [String(v.labels.outcome), v.value]));

  const first = store.current();
  // Broken before the first admission: the trust in force was read at load, never since.
  writeFileSync(rootPath, 'not a certificate\n');
  t.equal((await review('a1')).allowed, true, 'the file broke after load: signed under root A, still admitted (nothing is read at admission)');
  t.equal((await review('b1')).allowed, false, 'signed under root B: denied');
  t.equal(store.reload(), false, 'the reload is refused');
  t.equal(store.current(), first, 'the last good policy stays in force');
  t.match(store.status().lastReloadError, /policy\.yaml:8: checks\.signature\.trustStores\[0\]\.path: .*root\.pem/, 'the error names the key and the line');
  t.ok(
    logged.some((l) => l.msg === 'policy reload refused; the last good policy stays in force' && /root\.pem/.test(l.err ?? '')),
    'and is logged',
  );
  t.same(await reloads(), { refused: 1 }, 'and counted');
  t.equal((await review('a2')).allowed, true, 'after the refused reload, admissions still verify with the old trust');

  writeFileSync(rootPath, chainA.rootPem);
  t.equal(store.reload(), false, 'the file restored: the policy in force is that one already');
  t.notOk(store.status().lastReloadError, 'and the error is cleared');

  rmSync(rootPath);
  t.equal(store.reload(), false, 'a trust store that is gone refuses the reload too');
  t.match(store.status().lastReloadError, /checks\.signature\.trustStores\[0\]\.path/);
  t.equal(store.current(), first);

  writeFileSync(rootPath, chainB.rootPem);
  t.equal(store.reload(), true, 'a new good trust store (same policy text) is taken by the next reload');
  t.not(store.current().version, first.version, "as a new policy version: the version hashes the trust stores' certificates");
  t.notOk(store.status().lastReloadError);
  t.same(await reloads(), { refused: 2, applied: 1 });
  t.equal((await review('b2')).allowed, true, 'signed under root B: now admitted');
  const denied = await review('a3');
  t.equal(denied.allowed, false, 'signed under root A: now denied');
  t.match(denied.status?.message, /\[signature\]/);
});
