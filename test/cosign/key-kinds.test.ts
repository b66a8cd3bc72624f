// Key authorities of every kind cosign signs with, in both signature forms, signed the way
// cosign signs (sigstore/sigstore's default algorithm per key: ECDSA P-256/SHA-256,
// P-384/SHA-384, P-521/SHA-512, Ed25519 pure, RSA PKCS#1 v1.5/SHA-256 or PSS): each verifies
// with its own public key and is refused by another key of the same kind.
import t from 'tap';
import { createHash, constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { keyKind, verifyCosign, type Authority, type CosignArtifact } from '../../src/cosign/index.ts';

const digest = `sha256:${createHash('sha256').update('key kinds').digest('hex')}`;
const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');
type Signer = (data: Buffer, key: KeyObject) => Buffer;

const KINDS: Array<{ name: string; make: () => { privateKey: KeyObject; publicKey: KeyObject }; sign: Signer }> = [
  { name: 'ecdsa P-256', make: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }), sign: (d, k) => sign('sha256', d, k) },
  { name: 'ecdsa P-384', make: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }), sign: (d, k) => sign('sha384', d, k) },
  { name: 'ecdsa P-521', make: () => generateKeyPairSync('ec', { namedCurve: 'P-521' }), sign: (d, k) => sign('sha512', d, k) },
  { name: 'ed25519', make: () => generateKeyPairSync('ed25519'), sign: (d, k) => sign(null, d, k) },
  { name: 'rsa 3072', make: () => generateKeyPairSync('rsa', { modulusLength: 3072 }), sign: (d, k) => sign('sha256', d, k) },
  {
    name: 'rsa 2048',
    make: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
    sign: (d, k) => sign('sha256', d, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
  },
];

const payload = Buffer.from(
  JSON.stringify({
    critical: { identity: { 'docker-reference': 'x/app' }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
  }),
);
const statement = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ digest: { sha256: digest.slice(7) } }],
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
    predicate: {},
  }),
);
const TYPE = 'application/vnd.in-toto+json';
const pae = Buffer.concat([Buffer.from(`DSSEv1 ${TYPE.length} ${TYPE} ${statement.length} `), statement]);

function artifacts(privateKey: KeyObject, signer: Signer): CosignArtifact[] {
  return [
    { form: 'simple-signing', manifestDigest: digest, payload, annotations: { 'dev.cosignproject.cosign/signature': b64(signer(payload, privateKey)) } },
    {
      form: 'bundle',
      manifestDigest: digest,
      bundle: Buffer.from(
        JSON.stringify({
          mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
          verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] },
          dsseEnvelope: { payload: b64(statement), payloadType: TYPE, signatures: [{ sig: b64(signer(pae, privateKey)), keyid: '' }] },
        }),
      ),
    },
  ];
}

for (const kind of KINDS) {
  t.test(kind.name, async (t) => {
    const mine = kind.make();
    const other = kind.make();
    t.equal(keyKind(mine.publicKey), kind.name);
    const authority = (key: KeyObject): Authority => ({ kind: 'key', name: 'release', key, describe: kind.name });
    for (const a of artifacts(mine.privateKey, kind.sign)) {
      const r = verifyCosign(a, digest, [authority(mine.publicKey)], {});
      t.ok(r.ok, `${a.form}: verified${r.ok ? '' : ` (${r.reason}: ${JSON.stringify(r.tried)})`}`);
      const wrong = verifyCosign(a, digest, [authority(other.publicKey)], {});
      t.notOk(wrong.ok, `${a.form}: another ${kind.name} key refuses it`);
    }
  });
}

t.test('older cosign: an ECDSA P-384 signature over SHA-256 still verifies; a tampered one does not', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const [legacy] = artifacts(privateKey, (d, k) => sign('sha256', d, k));
  t.ok(verifyCosign(legacy!, digest, [{ kind: 'key', name: 'k', key: publicKey, describe: 'k' }], {}).ok);
  const tampered = { ...legacy!, payload: Buffer.from(payload.toString().replace('x/app', 'y/app')) } as CosignArtifact;
  t.notOk(verifyCosign(tampered, digest, [{ kind: 'key', name: 'k', key: publicKey, describe: 'k' }], {}).ok);
});
