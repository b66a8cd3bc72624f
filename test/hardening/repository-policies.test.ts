// Attacker class: a hostile repository policy. Anyone with ecr:SetRepositoryPolicy on one
// repository writes the document the posture check reads at every admission from it. Each
// hostile document must make restrictedPolicy fail (never pass, never crash, never stall),
// through the real runtime, the real ECR client and the sandbox.
import t from 'tap';
import { ociImage, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, OTHER_ACCOUNT, REGION, resultOf, startHarness } from '../helpers/harness.ts';

const HOSTILE: Record<string, string> = {
  'over 10,240 characters': JSON.stringify({ Statement: [{ Sid: 'x'.repeat(20_000), Effect: 'Deny', Principal: '*', Action: '*' }] }),
  'nested 5,000 deep': `{"Statement":${'['.repeat(5000)}${']'.repeat(5000)}}`,
  '101 statements': JSON.stringify({ Statement: Array.from({ length: 101 }, () => ({ Effect: 'Deny', Principal: '*', Action: '*' })) }),
  'not JSON': '{"Statement": [{"Effect": "Allow",',
  'a backtracking bomb of an action pattern, beside a cross-account push': JSON.stringify({
    Statement: [
      { Effect: 'Allow', Principal: { AWS: OTHER_ACCOUNT }, Action: [`ecr:${'*'.repeat(3000)}X`] },
      { Effect: 'Allow', Principal: { AWS: OTHER_ACCOUNT }, Action: 'ecr:PutImage' },
    ],
  }),
  'a wildcard principal hidden behind IfExists': JSON.stringify({
    Statement: [{ Effect: 'Allow', Principal: '*', Action: 'ecr:*', Condition: { StringEqualsIfExists: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } }],
  }),
  'Allow with NotPrincipal': JSON.stringify({
    Statement: [{ Effect: 'Allow', NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'ecr:BatchGetImage' }],
  }),
  'a non-string Principal value': JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: { nested: '*' } }, Action: 'ecr:BatchGetImage' }] }),
  '__proto__ keys': '{"Statement":[{"Effect":"Allow","Principal":{"__proto__":{"AWS":"*"}},"Action":"ecr:BatchGetImage"}]}',
};

const names = Object.keys(HOSTILE);
const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: {
      regions: {
        [REGION]: {
          repositories: names.map((_, i) => ({
            name: `hostile-${i}`,
            repositoryPolicy: HOSTILE[names[i]!]!,
            images: [ociImage({ seed: `hostile-${i}`, tags: ['1'] })],
          })),
        },
      },
    },
  },
});

for (const onError of ['deny', 'allow'] as const) {
  t.test(`every hostile policy fails restrictedPolicy (onError ${onError})`, async (t) => {
    const h = await startHarness({
      fixture: fixture(),
      policy: `
onError: ${onError}
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  posture: { require: [restrictedPolicy], action: deny }
`,
    });
    t.teardown(() => h.close());
    for (const [i, name] of names.entries()) {
      // A document that stalled the analysis would run into the admission deadline and come
      // back as `error`: the status assertion below catches it without timing anything.
      const out = await h.reviewPod([`${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/hostile-${i}:1`]);
      const r = resultOf(out, 'posture');
      t.equal(r?.status, 'fail', `${name}: fail, not error (the requester's document is judged, never excused)`);
      t.equal(out.response.allowed, false, `${name}: denied`);
      t.match(
        out.response.status?.message,
        /\[posture\] repository policy: the policy of repository hostile-\d+ (cannot be read|grants a wildcard principal|grants push across accounts)/,
      );
      t.ok((out.response.status?.message ?? '').length < 4096, `${name}: the message stays bounded`);
    }
  });
}
