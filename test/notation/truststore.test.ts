// Loading trust stores from PEM/DER files and Notary-style named-store directories.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AWS_SIGNER_ROOT_SHA256, loadTrustStore } from '../../src/notation/index.ts';
import { awsChain, readVector, VECTORS } from './helpers.ts';

const chain = await awsChain();
const otherChain = await awsChain();
const fakeAwsRoot = await awsChain({ rootCommonName: 'AWS Signer Code Signing Root CA G1' });
const der = (c: Uint8Array) => Buffer.from(c);
const pemOf = (c: Uint8Array) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(c).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

const rejects = (t: Test, spec: Parameters<typeof loadTrustStore>[0], pattern: RegExp, name: string) =>
  t.throws(() => loadTrustStore(spec), { name: 'NotationError', code: 'TRUST_STORE_INVALID', message: pattern }, name);

t.test('files', async (t) => {
  const dir = t.testdir({
    'root.pem': chain.rootPem,
    'two.pem': `${chain.rootPem}\n${otherChain.rootPem}`,
    'root.der': der(chain.certificates[3] as Uint8Array),
    'leaf.pem': pemOf(chain.certificates[0] as Uint8Array),
    'garbage.pem': 'not a certificate',
    'badpem.pem': '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n',
    'aws.pem': fakeAwsRoot.rootPem,
  });
  const one = loadTrustStore({ type: 'signingAuthority', path: join(dir, 'root.pem') });
  t.equal(one.type, 'signingAuthority');
  t.equal(one.name, 'root.pem');
  t.equal(one.certificates.length, 1);
  t.ok(one.certificates[0]?.raw.equals(der(chain.certificates[3] as Uint8Array)));
  t.equal(loadTrustStore({ type: 'ca', path: join(dir, 'two.pem') }).certificates.length, 2);
  t.equal(loadTrustStore({ type: 'ca', path: join(dir, 'root.der') }).certificates.length, 1, 'DER');
  rejects(t, { type: 'ca', path: join(dir, 'leaf.pem') }, /neither a CA nor self-signed/, 'a leaf issued by someone else');
  rejects(t, { type: 'ca', path: join(dir, 'garbage.pem') }, /garbage\.pem/, 'not a certificate');
  rejects(t, { type: 'ca', path: join(dir, 'badpem.pem') }, /not base64/, 'bad PEM body');
  rejects(t, { type: 'ca', path: join(dir, 'missing.pem') }, /missing\.pem/, 'missing file, named');
  rejects(t, { type: 'bogus' as 'ca', path: join(dir, 'root.pem') }, /unknown trust store type/, 'bad type');
  rejects(
    t,
    { type: 'signingAuthority', path: join(dir, 'aws.pem') },
    new RegExp(`claims to be the AWS Signer root.*${AWS_SIGNER_ROOT_SHA256}`),
    'an impostor of the AWS Signer root',
  );
});

t.test('the reference vectors load', async (t) => {
  t.equal(loadTrustStore({ type: 'ca', path: `${VECTORS}NotationTestRoot.pem` }).certificates.length, 1);
  t.equal(loadTrustStore({ type: 'ca', path: `${VECTORS}alpine-root.pem` }).certificates.length, 1, 'a self-signed signing certificate is allowed');
  t.ok(readVector('wabbit-networks.io.crt').length > 0);
  t.equal(loadTrustStore({ type: 'ca', path: `${VECTORS}wabbit-networks.io.crt` }).certificates.length, 1);
});

t.test('directories (Notary named stores)', async (t) => {
  const dir = t.testdir({
    store: {
      'a.pem': chain.rootPem,
      'b.crt': otherChain.rootPem,
      'c.cer': der(fakeAwsRoot.certificates[2] as Uint8Array), // an intermediate CA, DER
      'notes.txt': 'ignored',
      sub: { 'ignored.pem': 'not even a certificate' },
    },
    empty: { 'readme.md': 'no certificates here' },
    linked: { 'a.pem': chain.rootPem },
  });
  const store = loadTrustStore({ type: 'ca', path: join(dir, 'store') });
  t.equal(store.name, 'store');
  t.equal(store.certificates.length, 3, '.pem, .crt and .cer; other files and subdirectories ignored');
  rejects(t, { type: 'ca', path: join(dir, 'empty') }, /holds no certificates/, 'no certificates');
  // A Kubernetes ConfigMap volume: each file is a link into "..data", itself a link to a
  // timestamped directory; both ".." entries must be ignored and the links followed.
  mkdirSync(join(dir, 'mounted', '..2026_11_28_20_00_00.123'), { recursive: true });
  writeFileSync(join(dir, 'mounted', '..2026_11_28_20_00_00.123', 'root.pem'), chain.rootPem);
  symlinkSync('..2026_11_28_20_00_00.123', join(dir, 'mounted', '..data'));
  symlinkSync(join('..data', 'root.pem'), join(dir, 'mounted', 'root.pem'));
  t.equal(loadTrustStore({ type: 'ca', path: join(dir, 'mounted') }).certificates.length, 1, 'a ConfigMap-mounted directory is read through its links');
  t.equal(loadTrustStore({ type: 'ca', path: join(dir, 'mounted', 'root.pem') }).certificates.length, 1, 'a ConfigMap-mounted file is read through its link');
  symlinkSync(join(dir, 'nowhere.pem'), join(dir, 'linked', 'dangling.pem'));
  rejects(t, { type: 'ca', path: join(dir, 'linked', 'dangling.pem') }, /ENOENT|no such file/, 'a dangling link is refused');
});
