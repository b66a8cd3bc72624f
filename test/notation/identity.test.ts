// Parsing trusted identities: Notary x509.subject syntax and AWS Signer profile ARNs.
import t from 'tap';
import { parseTrustedIdentity } from '../../src/notation/index.ts';
import { profileArnMatches, subjectMatches } from '../../src/notation/identity.ts';

function attrs(s: string): Record<string, string> {
  const id = parseTrustedIdentity(s);
  if (id.kind !== 'x509Subject') throw new Error(`not a subject: ${id.kind}`);
  return Object.fromEntries(id.attributes);
}

t.test('x509.subject parsing', async (t) => {
  t.same(attrs('x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine'), { C: 'US', ST: 'WA', L: 'Seattle', O: 'Notary', CN: 'alpine' });
  t.same(attrs('x509.subject:C=US,S=WA,O=acme'), { C: 'US', ST: 'WA', O: 'acme' }, 'S is ST, spaces optional');
  t.same(attrs('x509.subject: c=US, st=WA, o=acme'), { C: 'US', ST: 'WA', O: 'acme' }, 'attribute types are case-insensitive');
  t.same(attrs('x509.subject: C=US, ST=WA, O=Acme\\, Inc.'), { C: 'US', ST: 'WA', O: 'Acme, Inc.' }, 'escaped comma');
  t.same(attrs('x509.subject: C=US, ST=WA, O=a\\;b\\\\c'), { C: 'US', ST: 'WA', O: 'a;b\\c' }, 'escaped semicolon and backslash');
  t.same(attrs('x509.subject: C=US, ST=WA, O=\\ padded\\ '), { C: 'US', ST: 'WA', O: ' padded ' }, 'escaped leading and trailing spaces kept');
  t.same(attrs('x509.subject: C=US, ST=WA, O=caf\\C3\\A9'), { C: 'US', ST: 'WA', O: 'café' }, 'hex-escaped UTF-8');
  t.same(attrs('x509.subject: C=US, ST=WA, O=acme, 2.5.4.11=Build'), { C: 'US', ST: 'WA', O: 'acme', OU: 'Build' }, 'a dotted OID maps to its short name');
  t.same(attrs('x509.subject: C=US, ST=WA, O=acme, E=ci@example.com'), { C: 'US', ST: 'WA', O: 'acme', EMAILADDRESS: 'ci@example.com' });
});

t.test('invalid identities throw TRUSTED_IDENTITY_INVALID', async (t) => {
  const bad = [
    '',
    'x509.subject:',
    'x509.subject: CN=alpine',
    'x509.subject: C=US, O=acme',
    'x509.subject: C=US, ST=WA, O=acme, O=other',
    'x509.subject: C=US, ST=WA, O=acme+OU=x',
    'x509.subject: C=US, ST=WA, O=#04024869',
    'x509.subject: C=US, ST=WA, O=acme, FOO=bar',
    'x509.subject: C=US, ST=WA, O=',
    'x509.subject: C=US, ST=WA, O=acme\\',
    'x509.subject: C=US, ST=WA, acme',
    'arn:aws:signer:us-east-1:111122223333:/signing-jobs/abc',
    'arn:aws:signer:us-east-1:1111:/signing-profiles/release',
    'arn:aws:s3:::bucket',
    'arn:aws:signer:us-east-1:111122223333:/signing-profiles/release/v1/extra',
    'arn:aws:signer:us-east-1:111122223333:/signing-profiles/',
    'release',
    '**',
  ];
  for (const s of bad) {
    t.throws(() => parseTrustedIdentity(s), { name: 'NotationError', code: 'TRUSTED_IDENTITY_INVALID' }, JSON.stringify(s));
  }
});

t.test('AWS Signer ARNs', async (t) => {
  const profile = parseTrustedIdentity('arn:aws:signer:us-east-1:111122223333:/signing-profiles/release');
  const version = parseTrustedIdentity('arn:aws:signer:us-east-1:111122223333:/signing-profiles/release/AbCdEf1234');
  t.equal(profile.kind, 'signingProfile');
  t.equal(version.kind, 'signingProfileVersion');
  t.equal(parseTrustedIdentity('arn:aws-us-gov:signer:us-gov-west-1:111122223333:/signing-profiles/gov').kind, 'signingProfile');
  t.equal(parseTrustedIdentity(' * ').kind, 'any');
  const signed = 'arn:aws:signer:us-east-1:111122223333:/signing-profiles/release/AbCdEf1234';
  t.ok(profileArnMatches(profile, signed));
  t.ok(profileArnMatches(profile, signed.toUpperCase()), 'case-insensitive');
  t.ok(profileArnMatches(version, signed));
  t.notOk(profileArnMatches(version, `${signed}5`));
  t.notOk(profileArnMatches(profile, 'arn:aws:signer:us-east-1:111122223333:/signing-profiles/release2/AbCdEf1234'));
  t.notOk(profileArnMatches(profile, 'arn:aws:signer:us-east-1:111122223333:/signing-profiles/releas'), 'no partial prefix');
});

t.test('subject matching is subset-of, order-insensitive, exact values', async (t) => {
  const leaf = new Map([
    ['C', 'US'],
    ['ST', 'WA'],
    ['L', 'Seattle'],
    ['O', 'Notary'],
    ['CN', 'alpine'],
  ]);
  const m = (s: string) => subjectMatches(new Map(Object.entries(attrs(s))), leaf);
  t.ok(m('x509.subject: CN=alpine, O=Notary, ST=WA, C=US'));
  t.ok(m('x509.subject: C=US, ST=WA, O=Notary'));
  t.notOk(m('x509.subject: C=US, ST=WA, O=notary'), 'values are case-sensitive');
  t.notOk(m('x509.subject: C=US, ST=WA, O=Notary, OU=Build'), 'an attribute the leaf lacks');
});
