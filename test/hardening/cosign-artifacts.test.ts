// Issue 19: cosign artifacts are input the requester controls (anyone who can push to the
// repository can hang a bundle referrer on an image or write its sha256-<hex>.sig tag), so each
// attacker class below is a definitive `fail` under onError allow, never an error and never an
// admission: a valid signature replayed onto another image (legacy and bundle forms), an
// attestation of another predicate type signed by the trusted key, a bundle declared over the
// size bound (refused before its download), a bundle nested 30,000 deep, a .sig tag of 40
// layers (16 read), oversized layer annotations. Valid signatures of both forms, made here with
// the trusted key, pass: the controls that show the cases are not refused for another reason.
// Both the ECR API path and the registry (OCI /v2/) path, through the real runtime.
import t from 'tap';
import { generateKeyPairSync, sign } from 'node:crypto';
import { MediaTypes, blobDescriptor, imageDescriptor, imageDigest, ociImage, type ImageFixture, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { ACCOUNT, HOST, REGION } from './helpers.ts';

const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const SIMPLE = 'application/vnd.dev.cosign.simplesigning.v1+json';
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');

function simplePayload(digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': `${HOST}/app` }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
      optional: null,
    }),
  );
}

/** The sha256-<hex>.sig image of `target` with these simple-signing layers. */
function sigTag(target: ImageFixture, layers: Array<{ payload: Buffer; annotations: Record<string, string> }>): ImageFixture {
  return {
    manifest: {
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_MANIFEST,
      config: blobDescriptor(MediaTypes.OCI_CONFIG, '{}'),
      layers: layers.map((l) => ({ ...blobDescriptor(SIMPLE, l.payload), annotations: l.annotations })),
    },
    blobs: ['{}', ...layers.map((l) => l.payload)],
    tags: [`${imageDigest(target).replace(':', '-')}.sig`],
  };
}

const signedLayer = (digest: string) => {
  const payload = simplePayload(digest);
  return { payload, annotations: { 'dev.cosignproject.cosign/signature': b64(sign('sha256', payload, privateKey)) } };
};

/** A v0.3 bundle, as cosign 3 writes it: a DSSE envelope over an in-toto statement, key-signed, no log entry. */
function dsseBundle(digest: string, predicateType = 'https://sigstore.dev/cosign/sign/v1'): Buffer {
  const statement = Buffer.from(
    JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { sha256: digest.slice(7) } }], predicateType, predicate: {} }),
  );
  const type = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${statement.length} `), statement]);
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE,
      verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] },
      dsseEnvelope: { payload: b64(statement), payloadType: type, signatures: [{ sig: b64(sign('sha256', pae, privateKey)), keyid: '' }] },
    }),
  );
}

function bundleReferrer(target: ImageFixture, bundle: Uint8Array, declaredSize?: number): ImageFixture {
  const layer = blobDescriptor(BUNDLE, bundle);
  return {
    manifest: {
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_MANIFEST,
      artifactType: BUNDLE,
      config: blobDescriptor(MediaTypes.OCI_EMPTY, '{}'),
      layers: [{ ...layer, ...(declaredSize !== undefined && { size: declaredSize }) }],
      subject: imageDescriptor(target),
    },
    blobs: ['{}', bundle],
  };
}

const image = (tag: string) => ociImage({ seed: `cosign-${tag}`, tags: [tag] });
const validLegacy = image('valid-legacy');
const validBundle = image('valid-bundle');
const replayed = image('replayed');
const replayedBundle = image('replayed-bundle');
const attestation = image('attestation');
const bomb = image('bundle-bomb');
const deep = image('deep-json');
const manyLayers = image('many-layers');
const bigAnnotation = image('big-annotation');
const deepBundle = Buffer.from(`${'['.repeat(30_000)}${']'.repeat(30_000)}`);

const images: ImageFixture[] = [
  validLegacy,
  sigTag(validLegacy, [signedLayer(imageDigest(validLegacy))]),
  validBundle,
  bundleReferrer(validBundle, dsseBundle(imageDigest(validBundle))),
  // A genuine signature of valid-legacy, copied onto another image.
  replayed,
  sigTag(replayed, [signedLayer(imageDigest(validLegacy))]),
  replayedBundle,
  bundleReferrer(replayedBundle, dsseBundle(imageDigest(validBundle))),
  attestation,
  bundleReferrer(attestation, dsseBundle(imageDigest(attestation), 'https://slsa.dev/provenance/v1')),
  bomb,
  bundleReferrer(bomb, Buffer.alloc(70 * 1024, 0x20)),
  deep,
  bundleReferrer(deep, deepBundle),
  manyLayers,
  sigTag(
    manyLayers,
    Array.from({ length: 40 }, (_, i) => ({ payload: Buffer.from(`{"junk":${i}}`), annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' } })),
  ),
  bigAnnotation,
  sigTag(bigAnnotation, [{ ...signedLayer(imageDigest(bigAnnotation)), annotations: { 'dev.cosignproject.cosign/signature': 'A'.repeat(50 * 1024) } }]),
];

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: 'app', tagMutability: 'IMMUTABLE', images }] } } } },
});

const policy = (source: 'ecr-api' | 'registry') => (url: string) => `mode: enforce
onError: allow
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
aws:
  endpoints: { ecrRegistry: "${url}" }
checks:
  immutability: false
  signature:
    source: ${source}
    cosign:
      authorities:
        - name: release
          key:
            pem: |
              ${PUBLIC_PEM.trim().split('\n').join('\n              ')}
`;

const CASES = [
  ['replayed', /cosign signature sha256:[0-9a-f]{12}: signs sha256:[0-9a-f]{12}…, not the deployed digest/],
  ['replayed-bundle', /cosign bundle sha256:[0-9a-f]{12}: signs sha256:[0-9a-f]{12}…, not the deployed digest/],
  ['attestation', /an attestation of predicate type https:\/\/slsa\.dev\/provenance\/v1, not a cosign signature/],
  ['bundle-bomb', /71680-byte layer, over the 65536-byte limit/],
  ['deep-json', /Sigstore bundle is nested deeper than 12/],
  ['many-layers', /no authority accepted it|is not a base64 signature|payload is not/],
  ['big-annotation', /bytes of layer annotations, over the 49152-byte limit/],
] as const;

for (const source of ['ecr-api', 'registry'] as const) {
  t.test(`${source}: valid cosign signatures of both forms pass (controls)`, async (t) => {
    const h = await startHarness({ fixture: fixture(), policy: policy(source) });
    t.teardown(() => h.close());
    for (const tag of ['valid-legacy', 'valid-bundle']) {
      const out = await h.reviewPod([`${HOST}/app:${tag}`]);
      t.equal(resultOf(out, 'signature')?.status, 'pass', `${tag}: ${resultOf(out, 'signature')?.reason ?? ''}`);
    }
  });

  t.test(`${source}: each attacker class is a fail under onError allow`, async (t) => {
    const h = await startHarness({ fixture: fixture(), policy: policy(source) });
    t.teardown(() => h.close());
    for (const [tag, why] of CASES) {
      h.sandbox.resetCalls();
      const out = await h.reviewPod([`${HOST}/app:${tag}`]);
      const result = resultOf(out, 'signature');
      t.equal(result?.status, 'fail', `${tag}: fail, not error (${result?.reason ?? ''})`);
      t.equal(out.response.allowed, false, `${tag}: denied under onError allow`);
      t.match(result?.reason, why, `${tag}: the reason says why`);
      if (tag === 'bundle-bomb') {
        const downloads = h.sandbox.calls('layer:GET');
        t.equal(downloads, 0, 'the oversized bundle was refused by its declared size, never downloaded');
      }
      if (tag === 'many-layers') {
        t.ok(h.sandbox.calls('layer:GET') <= 16, `at most 16 .sig layers downloaded (${h.sandbox.calls('layer:GET')})`);
        t.match(result?.reason, /signature tag sha256-[0-9a-f]{12}….sig: 24 more layers not examined \(at most 16\)/, 'the cap is named');
      }
    }
  });
}
