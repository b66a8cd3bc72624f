// The shapes cosign stores signatures in, read before any blob is fetched (issue 19): a bundle
// referrer (one bundle layer, subject = the image) and the sha256-<hex>.sig manifest
// (simple-signing layers with annotations), with their bounds.
import t from 'tap';
import { cosignSignatureTag, MAX_SIMPLE_SIGNING_LAYERS, parseBundleManifest, parseSimpleSigningManifest } from '../../src/facts/cosign-manifests.ts';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const SIMPLE = 'application/vnd.dev.cosign.simplesigning.v1+json';
const layer = (mediaType: string, size = 600, annotations?: Record<string, unknown>) => ({
  mediaType,
  digest: D('b'),
  size,
  ...(annotations && { annotations }),
});
const referrer = (over: Record<string, unknown> = {}) =>
  bytes({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: BUNDLE,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: D('c'), size: 2 },
    layers: [layer(BUNDLE)],
    subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('a'), size: 500 },
    ...over,
  });

t.test('bundle referrers', async (t) => {
  const ok = parseBundleManifest(referrer(), D('a'));
  t.same(ok, { ok: true, layers: [{ digest: D('b'), size: 600, annotations: {} }], skipped: 0 });
  t.ok(
    parseBundleManifest(referrer({ artifactType: undefined, config: { mediaType: BUNDLE, digest: D('c'), size: 2 } }), D('a')).ok,
    'type in config.mediaType',
  );
  const reason = (m: Uint8Array, subject = D('a')) => {
    const r = parseBundleManifest(m, subject);
    return r.ok ? 'ok' : r.reason;
  };
  t.match(reason(referrer(), D('f')), /subject other than the image/);
  t.match(reason(referrer({ artifactType: 'application/vnd.cncf.notary.signature' })), /is not a Sigstore bundle/);
  t.match(reason(referrer({ layers: [layer(BUNDLE), layer(BUNDLE)] })), /2 layers/);
  t.match(reason(referrer({ layers: [layer(BUNDLE, 65 * 1024)] })), /over the 65536-byte limit/);
  t.match(reason(referrer({ layers: [layer('application/json')] })), /media type application\/json/);
  t.match(reason(referrer({ layers: [{ mediaType: BUNDLE, digest: 'md5:x', size: 1 }] })), /not a descriptor/);
  t.match(reason(Buffer.from('not json')), /not an OCI image manifest/);
});

t.test('the .sig manifest', async (t) => {
  const sig = (layers: unknown[]) =>
    bytes({ schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('c'), size: 2 }, layers });
  const one = parseSimpleSigningManifest(sig([layer(SIMPLE, 250, { 'dev.cosignproject.cosign/signature': 'MEUC', other: 7 })]));
  t.same(
    one,
    { ok: true, layers: [{ digest: D('b'), size: 250, annotations: { 'dev.cosignproject.cosign/signature': 'MEUC' } }], skipped: 0 },
    'non-string annotations dropped',
  );
  const many = parseSimpleSigningManifest(sig(Array.from({ length: 20 }, () => layer(SIMPLE, 10))));
  t.ok(many.ok && many.layers.length === MAX_SIMPLE_SIGNING_LAYERS && many.skipped === 4, 'at most 16 layers, the rest counted');
  const reason = (layers: unknown[]) => {
    const r = parseSimpleSigningManifest(sig(layers));
    return r.ok ? 'ok' : r.reason;
  };
  t.match(reason([]), /no signature layers/);
  t.match(reason([layer(SIMPLE, 70 * 1024)]), /over the 65536-byte limit/);
  t.match(reason([layer(SIMPLE, 10, { a: 'x'.repeat(49 * 1024) })]), /layer annotations, over the 49152-byte limit/);
  t.equal(cosignSignatureTag(D('a')), `sha256-${'a'.repeat(64)}.sig`);
});
