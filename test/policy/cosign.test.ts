// checks.signature.cosign and checks.signature.formats (issue 19): what a policy may say, what
// it compiles to, and every mistake refused at load with its key path and line.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { parsePolicy } from '../../src/policy/load.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { ErrorCodes } from '../../src/support/errors.ts';

const ROOT = new URL('../../chart/ecr-admission/files/sigstore-trusted-root.json', import.meta.url).pathname;
const spki = (type: string, opts: object) =>
  (generateKeyPairSync as (t: string, o: object) => { publicKey: { export(o: object): string } })(type, opts).publicKey.export({ type: 'spki', format: 'pem' });
const P256 = spki('ec', { namedCurve: 'P-256' });
const P384 = spki('ec', { namedCurve: 'P-384' });
const RSA2048 = spki('rsa', { modulusLength: 2048 });
const RSA1024 = spki('rsa', { modulusLength: 1024 });
const ED25519 = spki('ed25519', {});
const SECP256K1 = spki('ec', { namedCurve: 'secp256k1' });
const KMS = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function problems(text: string): string[] {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code !== ErrorCodes.CONFIG_INVALID) throw err;
    return e.message
      .split('\n')
      .slice(1)
      .map((l) => l.trim().replace(/^p\.yaml/, ''));
  }
  return [];
}

const indent = (pem: string, n: number) =>
  pem
    .trim()
    .split('\n')
    .join(`\n${' '.repeat(n)}`);

t.test('key files of every kind cosign signs with, a KMS key and keyless identities compile', async (t) => {
  const dir = t.testdir({ 'p256.pub': P256, 'p384.pub': P384, 'rsa.pub': RSA2048, 'ed.pub': ED25519 });
  const text = `checks:
  signature:
    cosign:
      trustedRoot: ${ROOT}
      authorities:
        - { name: p256, key: { file: ${join(dir, 'p256.pub')} } }
        - { name: p384, key: { file: ${join(dir, 'p384.pub')} } }
        - { name: rsa, key: { file: ${join(dir, 'rsa.pub')} } }
        - { name: ed, key: { file: ${join(dir, 'ed.pub')} } }
        - name: inline
          key:
            pem: |
              ${indent(P256, 14)}
        - { name: kms, kms: "${KMS}" }
        - name: ci
          keyless:
            issuer: https://token.actions.githubusercontent.com
            subjectRegExp: '^https://github\\.com/acme/app/\\.github/workflows/release\\.yml@refs/tags/v[0-9.]+$'
`;
  const compiled = compilePolicy(parsePolicy(text, 'p.yaml'));
  const trust = compiled.base.trust!;
  t.same(trust.formats, ['cosign'], 'cosign only: the block configures no Notation trust stores');
  t.same(
    trust.cosign!.authorities.map((a) => `${a.name}:${a.kind}`),
    ['p256:key', 'p384:key', 'rsa:key', 'ed:key', 'inline:key', 'kms:kms', 'ci:keyless'],
  );
  t.same(
    trust.cosign!.authorities.filter((a) => a.kind === 'key').map((a) => a.describe.replace(/^key \S+ /, '')),
    ['(ecdsa P-256)', '(ecdsa P-384)', '(rsa 2048)', '(ed25519)', '(ecdsa P-256)'],
  );
  t.ok(trust.cosign!.trustMaterial, 'the trusted root was read');
  t.equal(trust.cosign!.signHint, 'cosign sign --key <private key matching this public key> <image>@<digest>');
  t.ok(compiled.trustStorePaths.includes(ROOT) && compiled.trustStorePaths.includes(join(dir, 'p256.pub')), 'key files and the root are watched for reloads');
  const keyless = trust.cosign!.authorities.find((a) => a.kind === 'keyless');
  if (keyless?.kind === 'keyless') {
    t.ok(keyless.subject.test('https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3'));
    t.notOk(keyless.subject.test('https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main'));
  }
});

t.test('formats: either format, or one required; the verdict key changes with the cosign settings', async (t) => {
  const dir = t.testdir({ 'a.pub': P256, 'b.pub': P384, 'ca.pem': '' });
  const base = (formats: string, key: string) => `checks:
  signature:
    ${formats}
    cosign: { authorities: [{ key: { file: ${join(dir, key)} } }] }
`;
  const a = compilePolicy(parsePolicy(base('', 'a.pub'), 'p.yaml')).base.trust!;
  const b = compilePolicy(parsePolicy(base('', 'b.pub'), 'p.yaml')).base.trust!;
  t.not(a.settingsKey, b.settingsKey, 'another key, another verdict key');
  t.equal(a.cosign!.authorities[0]!.name, 'authority 1', 'an unnamed authority is named by its place');
  t.same(problems(base('formats: [notation, cosign]', 'a.pub')), [
    ':2: checks.signature.trustStores: required when formats includes notation',
    ':2: checks.signature.trustedIdentities: required when formats includes notation',
  ]);
  t.same(problems('checks:\n  signature:\n    formats: [cosign]\n'), [':2: checks.signature.cosign: required when formats includes cosign']);
  t.same(problems('checks:\n  signature: {}\n'), [':2: checks.signature: checks.signature needs trustStores and trustedIdentities (Notation), or cosign']);
  t.match(
    problems('checks:\n  signature:\n    formats: [cosign, cosign]\n    cosign: { authorities: [{ kms: "' + KMS + '" }] }\n')[0],
    /^:3: checks\.signature\.formats/,
  );
});

t.test('every mistake is refused with its key and line', async (t) => {
  const dir = t.testdir({ 'rsa1024.pub': RSA1024, 'k1.pub': SECP256K1, 'junk.pub': 'not a key', 'root.json': '{"mediaType":"nope"}' });
  const text = `checks:
  signature:
    cosign:
      authorities:
        - { name: weak, key: { file: ${join(dir, 'rsa1024.pub')} } }
        - { name: k1, key: { file: ${join(dir, 'k1.pub')} } }
        - { name: junk, key: { file: ${join(dir, 'junk.pub')} } }
        - { name: missing, key: { file: ${join(dir, 'missing.pub')} } }
        - { name: both, key: { file: ${join(dir, 'junk.pub')}, pem: x } }
        - { name: two, kms: "${KMS}", keyless: { issuer: a, subject: b } }
        - { name: none }
        - name: loose
          keyless: { issuer: https://accounts.google.com, subjectRegExp: "acme" }
        - name: half
          keyless: { subject: x }
`;
  const got = problems(text);
  t.match(got, [
    /^:5: checks\.signature\.cosign\.authorities\[0\]\.key\.file: .*rsa1024\.pub: RSA key of 1024 bits: at least 2048 are required/,
    /^:6: checks\.signature\.cosign\.authorities\[1\]\.key\.file: .*k1\.pub: ECDSA curve secp256k1 is not one cosign signs with/,
    /^:7: checks\.signature\.cosign\.authorities\[2\]\.key\.file: .*junk\.pub: not a PEM public key/,
    /^:8: checks\.signature\.cosign\.authorities\[3\]\.key\.file: .*missing\.pub: ENOENT/,
    /^:9: checks\.signature\.cosign\.authorities\[4\]\.key: key needs exactly one of file and pem/,
    /^:10: checks\.signature\.cosign\.authorities\[5\]: an authority is exactly one of key, kms, keyless \(this one has kms and keyless\)/,
    /^:11: checks\.signature\.cosign\.authorities\[6\]: an authority is exactly one of key, kms, keyless \(this one has none\)/,
    /^:13: checks\.signature\.cosign\.authorities\[7\]\.keyless\.subjectRegExp: "acme" must be anchored at both ends/,
    /^:15: checks\.signature\.cosign\.authorities\[8\]\.keyless: keyless needs exactly one of issuer and issuerRegExp/,
    /^:3: checks\.signature\.cosign\.trustedRoot: keyless authorities need a Sigstore trusted root/,
  ]);
  t.same(problems(`checks:\n  signature:\n    cosign:\n      authorities:\n        - { name: dup, kms: "${KMS}" }\n        - { name: dup, kms: "${KMS}" }\n`), [
    ':6: checks.signature.cosign.authorities[1].name: authority name "dup" is used twice',
  ]);
  const badArn = problems(`checks:\n  signature:\n    cosign: { authorities: [{ kms: "arn:aws:kms:us-east-1:111122223333:secret/x" }] }\n`);
  t.match(badArn[0], /^:3: checks\.signature\.cosign\.authorities\[0\]\.kms: /);
  const badRoot = problems(
    `checks:\n  signature:\n    cosign:\n      trustedRoot: ${join(dir, 'root.json')}\n      authorities: [{ keyless: { issuer: a, subject: b } }]\n`,
  );
  t.match(badRoot, [/^:4: checks\.signature\.cosign\.trustedRoot: .*is not a Sigstore trusted root/]);
});
