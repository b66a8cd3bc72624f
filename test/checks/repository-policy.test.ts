// The repository-policy analysis (src/checks/repository-policy.ts) against documents in every
// shape the IAM grammar allows: AWS's published examples, and variants that must fail.
import t from 'tap';
import { analyzeRepositoryPolicy, actionMatches, MAX_POLICY_CHARS, MAX_STATEMENTS } from '../../src/checks/repository-policy.ts';
import { AWS_DOC_CASES, OTHER, OWN, VARIANT_CASES } from '../fixtures/repository-policies.ts';

for (const c of [...AWS_DOC_CASES, ...VARIANT_CASES]) {
  t.test(`${c.source}: ${c.name}`, async (t) => {
    const { problems } = analyzeRepositoryPolicy(JSON.stringify(c.document), OWN);
    t.same(
      problems.map((p) => p.kind),
      c.expect,
      problems.map((p) => `${p.statement}: ${p.detail}`).join('; ') || 'no problem',
    );
    for (const p of problems) t.ok(p.detail.length > 0 && p.detail.length < 400, 'each problem says what is wrong, briefly');
  });
}

t.test('the same document judged from the other account flips the cross-account verdict', async (t) => {
  const push = AWS_DOC_CASES.find((c) => c.name.startsWith('Allow another account to push'))!;
  t.same(analyzeRepositoryPolicy(JSON.stringify(push.document), OTHER).problems, [], 'pushing to its own repository is not cross-account');
  const users = AWS_DOC_CASES[0]!;
  t.same(
    analyzeRepositoryPolicy(JSON.stringify(users.document), OTHER).problems.map((p) => p.kind),
    ['cross-account-write', 'cross-account-write'],
    'both users of 111122223333 push into a repository of 444455556666',
  );
});

t.test('problems name the statement by Sid, else by position', async (t) => {
  const doc = {
    Statement: [
      { Sid: 'PublicPull', Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage' },
      { Effect: 'Allow', Principal: { AWS: OTHER }, Action: 'ecr:PutImage' },
    ],
  };
  const { problems } = analyzeRepositoryPolicy(JSON.stringify(doc), OWN);
  t.same(
    problems.map((p) => p.statement),
    ['PublicPull', 'statement 2'],
  );
  t.match(problems[1]?.detail, /ecr:PutImage allowed to 444455556666 of account 444455556666/);
});

t.test('bounds: size, depth, values and statements are refused before or instead of parsing', async (t) => {
  const big = JSON.stringify({ Statement: [{ Sid: 'x'.repeat(MAX_POLICY_CHARS), Effect: 'Deny', Principal: '*', Action: '*' }] });
  t.match(analyzeRepositoryPolicy(big, OWN).problems, [{ kind: 'unreadable', detail: /characters/ }], 'over 10,240 characters');
  const deep = `{"Statement":${'['.repeat(50)}${']'.repeat(50)}}`;
  t.match(analyzeRepositoryPolicy(deep, OWN).problems, [{ kind: 'unreadable', detail: /nested deeper/ }], 'nesting');
  const many = JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', Action: Array.from({ length: 3000 }, () => 0) }] });
  t.ok(many.length <= MAX_POLICY_CHARS);
  t.match(analyzeRepositoryPolicy(many, OWN).problems, [{ kind: 'unreadable', detail: /values/ }], 'value count');
  const statements = JSON.stringify({ Statement: Array.from({ length: MAX_STATEMENTS + 1 }, () => ({ Effect: 'Deny', Principal: '*', Action: '*' })) });
  t.ok(statements.length <= MAX_POLICY_CHARS);
  t.match(analyzeRepositoryPolicy(statements, OWN).problems, [{ kind: 'unreadable', detail: /statements/ }], 'statement count');
  t.match(analyzeRepositoryPolicy('{"Statement": [', OWN).problems, [{ kind: 'unreadable', detail: /not valid JSON/ }], 'malformed JSON');
  t.match(analyzeRepositoryPolicy('[]', OWN).problems, [{ kind: 'unreadable' }], 'not an object');
});

t.test('action patterns: case-insensitive, * and ?, regex characters literal', async (t) => {
  t.ok(actionMatches('ecr:*', 'ecr:PutImage'));
  t.ok(actionMatches('*', 'ecr:PutImage'));
  t.ok(actionMatches('ECR:PUTIMAGE', 'ecr:PutImage'));
  t.ok(actionMatches('ecr:Put?mage', 'ecr:PutImage'));
  t.notOk(actionMatches('ecr:Put', 'ecr:PutImage'), 'no implicit prefix');
  t.notOk(actionMatches('ecr.PutImage', 'ecr:PutImage'), '. is literal');
  t.notOk(actionMatches('ecr-public:*', 'ecr:PutImage'), 'another service');
  t.ok(actionMatches('e*r:*I*e', 'ecr:PutImage'));
  t.notOk(actionMatches('e*r:*I*x', 'ecr:PutImage'));
  t.ok(actionMatches('**', ''));
  t.notOk(actionMatches('?', ''));
});

t.test('a pattern built to make a backtracking matcher explode is matched in linear time', async (t) => {
  const hostile = `ecr:${'*'.repeat(4000)}X`;
  const started = performance.now();
  t.notOk(actionMatches(hostile, 'ecr:PutImage'));
  const doc = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: OTHER }, Action: [hostile, `${'*?'.repeat(2000)}Z`] }] });
  t.ok(doc.length <= MAX_POLICY_CHARS);
  t.same(analyzeRepositoryPolicy(doc, OWN).problems, [], 'no write action matches either pattern');
  t.comment(`hostile patterns matched in ${Math.round(performance.now() - started)} ms`);
});
