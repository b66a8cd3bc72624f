// Keyless identity patterns (issue 19) are written by the policy author but tested against an
// issuer and subject the signer chose: anyone can get a public-good Fulcio certificate for an
// identity of their own. A pattern must match the whole identity, whatever its top-level shape.
// Found by the attacker review of this round: "^a|b$" was checked as text (anchors present) and
// compiled as written, so each alternative was anchored at one end only.
import t from 'tap';
import { regexMatcher } from '../../src/cosign/matcher.ts';

t.test('a top-level alternation is anchored at both ends for every alternative', async (t) => {
  const workflow = regexMatcher(
    '^https://github\\.com/myorg/app/\\.github/workflows/release\\.yml@refs/heads/main|https://github\\.com/myorg/app/\\.github/workflows/hotfix\\.yml@refs/heads/main$',
  );
  t.notOk(workflow.test('https://github.com/myorg/app/.github/workflows/release.yml@refs/heads/main-attacker'), 'the first alternative is anchored at its end');
  t.notOk(
    workflow.test('https://github.com/attacker/x?https://github.com/myorg/app/.github/workflows/hotfix.yml@refs/heads/main'),
    'the second alternative is anchored at its start',
  );
  t.ok(workflow.test('https://github.com/myorg/app/.github/workflows/release.yml@refs/heads/main'), 'the intended identities still match');
  t.ok(workflow.test('https://github.com/myorg/app/.github/workflows/hotfix.yml@refs/heads/main'));
  const mail = regexMatcher('^a@example\\.com|b@example\\.com$');
  t.notOk(mail.test('a@example.com.attacker.net'), 'the first alternative is anchored at its end');
  t.notOk(mail.test('evil-b@example.com'), 'the second alternative is anchored at its start');
  t.ok(mail.test('a@example.com'));
  t.ok(mail.test('b@example.com'));
});

t.test('an identity past 1,024 characters never reaches the pattern', async (t) => {
  const any = regexMatcher('^https://.*$');
  t.ok(any.test(`https://${'a'.repeat(1000)}`));
  t.notOk(any.test(`https://${'a'.repeat(1017)}`), 'a 1,025-character subject is refused');
});

t.test('an unanchored or half-anchored pattern is refused at load', async (t) => {
  t.throws(() => regexMatcher('myorg/app'), /anchored at both ends/);
  t.throws(() => regexMatcher('^myorg/app'), /anchored at both ends/);
  t.throws(() => regexMatcher('myorg/app$'), /anchored at both ends/);
  t.throws(() => regexMatcher('^myorg/app\\$'), /anchored at both ends/);
});
