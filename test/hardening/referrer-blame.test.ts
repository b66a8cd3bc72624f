// Issue 12, high 3 (second half): onError is for faults of AWS and registries, never for input
// the requester controls. A signature referrer that lies about its envelope's size, names an
// envelope the repository does not hold, or is not a Notation signature at all is a definitive
// rejection: with nothing valid found the check fails, and onError allow does not admit it.
// S3 failing the pre-signed download (503), ECR throttling, and bytes served that do not hash
// to their digest (ECR and every OCI registry check digests at push, so no pusher can cause
// that: S3, the registry or the transfer served garbage) stay an error for onError, and are
// not remembered.
// Both the ECR API path and the registry (OCI referrers API) path, through the real runtime.
import t from 'tap';
import {
  MediaTypes,
  NOTARY_SIGNATURE_ARTIFACT_TYPE,
  blobDescriptor,
  imageDescriptor,
  ociImage,
  toBytes,
  type Descriptor,
  type ImageFixture,
  type SandboxFixture,
} from '../../src/dev/sandbox/index.ts';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { ACCOUNT, HOST, PROFILE, REGION, ROOT_PEM_PATH, sign } from './helpers.ts';

/** A signature manifest for `target` written by hand, with `layer` as its envelope descriptor. */
function handWritten(target: ImageFixture, layer: Descriptor, blobs: Uint8Array[], n: string): ImageFixture {
  return {
    manifest: {
      schemaVersion: 2,
      mediaType: MediaTypes.OCI_MANIFEST,
      artifactType: NOTARY_SIGNATURE_ARTIFACT_TYPE,
      config: blobDescriptor(MediaTypes.OCI_EMPTY, '{}'),
      layers: [layer],
      subject: imageDescriptor(target),
      annotations: { n },
    },
    blobs: ['{}', ...blobs],
  };
}

// A real, valid envelope for the image, but the manifest declares one byte more than it has.
const lyingSize = ociImage({ seed: 'lying-size', tags: ['lying-size'] });
const realEnvelope = toBytes(sign(lyingSize).envelope);
const realLayer = blobDescriptor('application/jose+json', realEnvelope);
const lyingSizeRef = handWritten(lyingSize, { ...realLayer, size: realLayer.size + 1 }, [realEnvelope], 'lying');
// The manifest names an envelope blob that was never pushed.
const missingBlob = ociImage({ seed: 'missing-blob', tags: ['missing-blob'] });
const missingBlobRef = handWritten(missingBlob, blobDescriptor('application/jose+json', 'never pushed'), [], 'missing');
// A manifest that claims the signature type but has two layers.
const twoLayers = ociImage({ seed: 'two-layers', tags: ['two-layers'] });
const twoEnvelope = toBytes(sign(twoLayers).envelope);
const twoLayersRef: ImageFixture = (() => {
  const r = handWritten(twoLayers, blobDescriptor('application/jose+json', twoEnvelope), [twoEnvelope], 'two');
  const m = r.manifest as { layers: Descriptor[] };
  m.layers = [m.layers[0]!, m.layers[0]!];
  return r;
})();
const signed = ociImage({ seed: 'blame-signed', tags: ['signed'] });
signed.signatures = [sign(signed)];

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: {
      regions: {
        [REGION]: {
          repositories: [
            { name: 'app', tagMutability: 'IMMUTABLE', images: [lyingSize, lyingSizeRef, missingBlob, missingBlobRef, twoLayers, twoLayersRef, signed] },
          ],
        },
      },
    },
  },
});

const policy = (source: 'ecr-api' | 'registry', onError: 'allow' | 'deny') => (url: string) => `mode: enforce
onError: ${onError}
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
aws:
  endpoints: { ecrRegistry: "${url}" }
checks:
  signature:
    trustStores: [{ type: signingAuthority, path: ${ROOT_PEM_PATH} }]
    trustedIdentities: ["${PROFILE}"]
    source: ${source}
`;

for (const source of ['ecr-api', 'registry'] as const) {
  t.test(`${source}: a referrer at fault is a fail, whatever onError says`, async (t) => {
    const h = await startHarness({ fixture: fixture(), policy: policy(source, 'allow') });
    t.teardown(() => h.close());
    for (const [tag, why] of [
      ['lying-size', /bytes/],
      ['missing-blob', /./],
      ['two-layers', /layer/],
    ] as const) {
      const out = await h.reviewPod([`${HOST}/app:${tag}`]);
      t.equal(resultOf(out, 'signature')?.status, 'fail', `${tag}: fail, not error`);
      t.equal(out.response.allowed, false, `${tag}: denied under onError allow`);
      t.match(resultOf(out, 'signature')?.reason, why);
    }
  });

  t.test(`${source}: the registry failing the envelope download is an error, for onError`, async (t) => {
    const download = source === 'ecr-api' ? 'layer:GET' : 'oci:GET blobs';
    for (const onError of ['allow', 'deny'] as const) {
      const h = await startHarness({ fixture: fixture(), policy: policy(source, onError) });
      t.teardown(() => h.close());
      h.sandbox.inject(download, { kind: 'unavailable' });
      const out = await h.reviewPod([`${HOST}/app:signed`]);
      t.equal(resultOf(out, 'signature')?.status, 'error', `onError ${onError}: S3/registry 503 leaves the verdict undecided`);
      t.equal(out.response.allowed, onError === 'allow', `onError ${onError} decides`);
      h.sandbox.clearFaults();
      const again = await h.reviewPod([`${HOST}/app:signed`]);
      t.equal(again.response.allowed, true, 'the failure was not remembered: admitted once the download works');
    }
  });
}

// 'malformed' flips bytes of what the sandbox serves: same length, a different hash. The
// envelope comes from the pre-signed URL on both paths (a registry blob GET redirects to it);
// on the registry path the signature manifest is served by GET manifests.
const WRONG_BYTES = [
  { source: 'ecr-api', op: 'layer:GET', what: 'envelope' },
  { source: 'registry', op: 'layer:GET', what: 'envelope' },
  { source: 'registry', op: 'oci:GET manifests', what: 'signature manifest' },
] as const;

for (const { source, op: download, what } of WRONG_BYTES) {
  t.test(`${source}: ${what} bytes that do not hash to their digest are the registry's fault: an error, not remembered`, async (t) => {
    for (const onError of ['allow', 'deny'] as const) {
      const h = await startHarness({ fixture: fixture(), policy: policy(source, onError) });
      t.teardown(() => h.close());
      h.sandbox.inject(download, { kind: 'malformed' });
      const out = await h.reviewPod([`${HOST}/app:signed`]);
      const result = resultOf(out, 'signature');
      t.equal(result?.status, 'error', `onError ${onError}: a digest mismatch leaves the verdict undecided`);
      t.match(result?.reason, /do not hash|hash to sha256:/, 'the reason says what was wrong');
      t.equal(out.response.allowed, onError === 'allow', `onError ${onError} decides`);
      h.sandbox.clearFaults();
      const before = h.sandbox.calls(download);
      const again = await h.reviewPod([`${HOST}/app:signed`]);
      t.ok(h.sandbox.calls(download) > before, 'the envelope is downloaded again: nothing was remembered');
      t.equal(resultOf(again, 'signature')?.status, 'pass');
      t.equal(again.response.allowed, true, 'the good image is admitted once the fault ends');
    }
  });
}

t.test('ecr-api: GetDownloadUrlForLayer throttled is an error, for onError', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('ecr-api', 'deny') });
  t.teardown(() => h.close());
  h.sandbox.inject('ecr:GetDownloadUrlForLayer', { kind: 'throttle' });
  const out = await h.reviewPod([`${HOST}/app:signed`]);
  t.equal(resultOf(out, 'signature')?.status, 'error');
  t.match(resultOf(out, 'signature')?.reason, /GetDownloadUrlForLayer/);
});
