// The OCI distribution client against the AWS sandbox's registry (/v2/): tag resolution,
// digest checks, deadlines and retries, Notation signatures through the referrers API.
// oci-registry-local.test.ts covers what the sandbox does not do. Basic auth with the
// GetAuthorizationToken password: ecr-registry-auth.test.ts.
import t from 'tap';
import { OciContentError, OciRegistryClient, type OciRegistryOptions } from '../../src/facts/oci/registry.ts';
import { FactError } from '../../src/facts/errors.ts';
import { MAX_ENVELOPE_BYTES } from '../../src/facts/signature-budget.ts';
import {
  MediaTypes,
  NOTARY_SIGNATURE_ARTIFACT_TYPE,
  blobDescriptor,
  imageDescriptor,
  manifestBytes,
  ociImage,
  sha256Digest,
  type Descriptor,
  type SandboxFixture,
} from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, imageDigest, notationFile, sandbox, standardFixture } from '../dev/sandbox/helpers.ts';

const MiB = 1024 * 1024;
const live = () => AbortSignal.timeout(10_000);

function client(baseUrl: string, extra: Partial<OciRegistryOptions> = {}): OciRegistryClient {
  return new OciRegistryClient({ baseUrl, plainHttp: true, ...extra });
}

function fixtureWith(images: SandboxFixture['accounts'][string]['regions'][string]['repositories'][number]['images']): SandboxFixture {
  return { defaultAccount: ACCOUNT, accounts: { [ACCOUNT]: { regions: { 'us-east-1': { repositories: [{ name: 'app', images }] } } } } };
}

t.test('tag and digest resolution through the sandbox registry', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const oci = client(sb.url);

  const byTag = await oci.resolve('web', { tag: '1.4.2' }, live());
  t.equal(byTag.digest, imageDigest(s.web));
  t.equal(byTag.mediaType, MediaTypes.OCI_MANIFEST);
  t.equal(byTag.size, manifestBytes(s.web.manifest).byteLength);
  t.same(Buffer.from(byTag.bytes), Buffer.from(manifestBytes(s.web.manifest)));
  t.equal(sb.calls('oci:HEAD manifests'), 1, 'HEAD for the digest');
  t.equal(sb.calls('oci:GET manifests'), 1, 'then GET by that digest');
  t.match(sb.callLog().at(-1)?.input, { path: `/v2/web/manifests/${imageDigest(s.web)}` });

  const byDigest = await oci.resolve('web', { digest: imageDigest(s.web), tag: 'ignored-when-a-digest-is-given' }, live());
  t.equal(byDigest.digest, imageDigest(s.web));
  t.equal(sb.calls('oci:HEAD manifests'), 1, 'a digest needs no HEAD');

  const multi = await oci.resolve('web', { tag: 'multi' }, live());
  t.equal(multi.mediaType, MediaTypes.OCI_INDEX);
  t.same(
    multi.platforms?.map((p) => [p.platform, p.digest]),
    [
      ['linux/amd64', imageDigest(s.amd64)],
      ['linux/arm64/v8', imageDigest(s.arm64)],
    ],
  );

  const nested = await oci.resolve('team/api', { tag: 'v1' }, live());
  t.match(nested.digest, /^sha256:[a-f0-9]{64}$/);

  await t.rejects(oci.resolve('web', { tag: 'nope' }, live()), { name: 'FactError', code: 'IMAGE_NOT_FOUND', service: 'oci', operation: 'HEAD manifests' });
  await t.rejects(oci.resolve('web', { tag: '1.0.0' }, live()), { code: 'IMAGE_NOT_FOUND' }, 'archived images cannot be pulled');
  await t.rejects(oci.resolve('missing', { digest: imageDigest(s.web) }, live()), { code: 'REPOSITORY_NOT_FOUND', operation: 'GET manifests' });
  await t.rejects(oci.resolve('web', { tag: '../../x' }, live()), { code: 'IMAGE_NOT_FOUND', message: /not a valid tag/ });
  await t.rejects(oci.resolve('Web/../x', { tag: 'a' }, live()), { code: 'REPOSITORY_NOT_FOUND', message: /not a valid repository name/ });
  await t.rejects(oci.resolve('web', { digest: 'sha512:abc' }, live()), { code: 'IMAGE_NOT_FOUND', message: /not a sha256 digest/ });
  await t.rejects(oci.resolve('web', {}, live()), { code: 'IMAGE_NOT_FOUND' });
});

t.test("bytes that do not hash to the digest are refused, as the registry's fault", async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const oci = client(sb.url);
  sb.inject('oci:GET manifests', { kind: 'malformed', times: 1 });
  // A registry checks digests at push: no pusher can store such bytes, so this is not a
  // content problem of the image (OciContentError, definitive) but an error for onError.
  const error = await oci.resolve('web', { tag: '1.4.2' }, live()).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(error, { name: 'FactError', code: 'AWS_ERROR', service: 'oci', message: new RegExp(`served for ${imageDigest(s.web)} hash to sha256:`) });
  t.notOk(error instanceof OciContentError, 'not a content problem');
  t.equal((error as FactError).definitive, false, 'not definitive: the decision follows onError and nothing is cached');
  t.equal(sb.calls('oci:GET manifests'), 1, 'not retried within the request');
  const again = await oci.resolve('web', { tag: '1.4.2' }, live());
  t.equal(again.digest, imageDigest(s.web));
});

t.test('deadline, per-request timeout, retries and status mapping', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const digest = imageDigest(s.web);

  sb.setLatency(300);
  await t.rejects(client(sb.url, { requestTimeoutMs: 50 }).resolve('web', { digest }, live()), { code: 'TIMEOUT', message: /within 50 ms/ });
  await t.rejects(client(sb.url).resolve('web', { digest }, AbortSignal.timeout(50)), { code: 'TIMEOUT', message: /admission deadline/ });
  const aborted = AbortSignal.abort();
  await t.rejects(client(sb.url).signatures('web', digest, aborted), { code: 'TIMEOUT', operation: 'GET referrers' });
  sb.setLatency(0);

  sb.resetCalls();
  sb.inject('oci:GET referrers', { kind: 'server-error', times: 1 });
  const list = await client(sb.url).signatures('web', digest, live());
  t.equal(list.signatures.length, 1, 'one 5xx is retried');
  t.equal(sb.calls('oci:GET referrers'), 2);

  sb.inject('oci:GET referrers', { kind: 'unavailable', times: 2 });
  await t.rejects(client(sb.url).signatures('web', digest, live()), { code: 'AWS_ERROR', message: /HTTP 503 \(UNAVAILABLE/ });
  sb.inject('oci:GET referrers', { kind: 'throttle', times: 1 });
  await t.rejects(client(sb.url, { retries: 0 }).signatures('web', digest, live()), { code: 'THROTTLED' });
  sb.inject('oci:GET referrers', { kind: 'access-denied', times: 1 });
  await t.rejects(client(sb.url).signatures('web', digest, live()), { code: 'ACCESS_DENIED' });
  sb.inject('oci:GET manifests', { kind: 'reset' });
  await t.rejects(client(sb.url).resolve('web', { digest }, live()), { code: 'AWS_ERROR', message: /failed at 127\.0\.0\.1/ });
  sb.clearFaults();
  sb.inject('oci:GET manifests', { kind: 'reset', times: 1 });
  t.equal((await client(sb.url).resolve('web', { digest }, live())).digest, digest, 'a reset connection is tried again');

  t.throws(() => new OciRegistryClient({ baseUrl: sb.url }), TypeError, 'plain HTTP only when asked for');
});

t.test('Notation signatures through the referrers API', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const list = await client(sb.url).signatures('web', imageDigest(s.web), live());
  t.equal(list.source, 'referrers-api');
  t.equal(list.signatures.length, 1);
  t.same(list.skipped, []);
  t.equal(list.truncated, false);
  const [sig] = list.signatures;
  t.same(Buffer.from(sig!.envelope), s.envelope);
  t.equal(sig!.envelopeMediaType, 'application/jose+json');
  t.equal(sig!.envelopeDigest, sha256Digest(s.envelope));
  t.match(sig!.annotations, { 'org.opencontainers.image.created': /^2026-03-01T10:00:00Z$/ });
  t.match(sb.callLog().find((c) => c.op === 'oci:GET referrers')?.input, { query: `?artifactType=${encodeURIComponent(NOTARY_SIGNATURE_ARTIFACT_TYPE)}` });
  t.equal(sb.calls('layer:GET'), 1, 'the blob redirect to the pre-signed URL was followed');

  const none = await client(sb.url).signatures('web', imageDigest(s.amd64), live());
  t.same(none.signatures, []);
  t.equal(none.listed, 0);
});

t.test('legacy signatures, the 50-referrer cap, and malformed referrers', async (t) => {
  const envelope = notationFile('ca_valid_sig_env.json');
  const image = ociImage({
    seed: 'many',
    tags: ['v1'],
    signatures: Array.from({ length: 60 }, (_, i) => ({
      envelope: Buffer.concat([envelope, Buffer.from(`\n${i}`)]),
      envelopeMediaType: 'application/jose+json' as const,
      // newest first: signature 59 is the newest, signature 0 (legacy) the oldest
      pushedAt: new Date(Date.UTC(2026, 0, 1, 0, i)),
      ...(i === 59 ? { legacyConfigMediaType: true } : {}),
      ...(i === 58 ? { artifactType: 'application/spdx+json' } : {}),
      ...(i === 57 ? { status: 'ARCHIVED' as const } : {}),
    })),
  });
  const sb = await sandbox(t, fixtureWith([image]));
  const list = await client(sb.url).signatures('app', imageDigest(image), live());
  t.equal(list.listed, 58, 'the sbom and the archived referrer are not listed');
  t.equal(list.truncated, true);
  t.equal(list.signatures.length, 50, 'at most 50 referrers examined');
  t.equal(sb.calls('oci:GET manifests'), 50);
  t.equal(sb.calls('oci:GET blobs'), 50);
  const newest = list.signatures.map((x) => Buffer.from(x.envelope).toString().split('\n').at(-1));
  t.equal(newest[0], '59', 'the legacy form (only config.mediaType says notary) is a signature, and the newest is examined first');
  t.notOk(newest.includes('0'), 'the oldest were left out');

  // Referrers whose manifests Notation would never write.
  const target = ociImage({ seed: 'target', tags: ['t'] });
  const subject = imageDescriptor(target);
  const env = Buffer.from('{"payload":"x"}');
  const envDesc = blobDescriptor('application/jose+json', env);
  const notation = {
    schemaVersion: 2,
    mediaType: MediaTypes.OCI_MANIFEST,
    artifactType: NOTARY_SIGNATURE_ARTIFACT_TYPE,
    config: blobDescriptor(MediaTypes.OCI_EMPTY, '{}'),
    subject,
  };
  const referrer = (layers: Descriptor[], extra: object = {}) => ({ manifest: { ...notation, layers, ...extra }, blobs: ['{}', env] });
  const big = Buffer.alloc(5 * MiB, 0x61);
  const odd = fixtureWith([
    target,
    referrer([envDesc, envDesc]),
    referrer([{ ...envDesc, mediaType: 'application/pgp-signature' }], { annotations: { n: '2' } }),
    referrer([{ ...envDesc, size: envDesc.size + 1 }], { annotations: { n: '3' } }),
    referrer([blobDescriptor('application/jose+json', 'not stored')], { annotations: { n: '4' } }),
    referrer([envDesc], { annotations: { n: 'good' } }),
    { manifest: { ...notation, artifactType: 'application/vnd.example.other', layers: [envDesc] }, blobs: ['{}'] },
  ]);
  odd.accounts[ACCOUNT]!.regions['us-east-1']!.repositories[0]!.signatures = [
    { subjectDigest: imageDigest(target), envelope: big, envelopeMediaType: 'application/cose' },
  ];
  sb.update((f) => Object.assign(f, odd));
  sb.resetCalls();
  const mixed = await client(sb.url).signatures('app', imageDigest(target), live());
  t.same(
    mixed.signatures.map((x) => x.annotations.n),
    ['good'],
  );
  t.same(mixed.skipped.map((x) => x.problem).sort(), ['layer-count', 'missing', 'size-mismatch', 'too-large', 'unsupported-envelope']);
  t.match(mixed.skipped.find((x) => x.problem === 'too-large')?.reason, new RegExp(`5242880 bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit`));
  t.equal(sb.calls('oci:GET blobs'), 3, 'no blob GET for the oversized, two-layer or unsupported envelopes');
  t.equal(mixed.listed, 6, 'the referrer of another artifact type is filtered out');
});
