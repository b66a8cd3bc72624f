import t from 'tap';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { MediaTypes, NOTARY_SIGNATURE_ARTIFACT_TYPE, sha256Digest } from '../../../src/dev/sandbox/index.ts';
import { OTHER_ACCOUNT, clients, imageDigest, sandbox, standardFixture } from './helpers.ts';

const ACCEPT_ALL = [MediaTypes.OCI_MANIFEST, MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST, MediaTypes.DOCKER_MANIFEST_LIST].join(', ');

t.test('OCI distribution API with ECR-style Basic auth', async (t) => {
  const s = standardFixture();
  s.fixture.registry = { requireAuth: true };
  const sb = await sandbox(t, s.fixture);
  const { ecr } = clients(t, sb);

  const anonymous = await fetch(`${sb.url}/v2/`);
  t.equal(anonymous.status, 401);
  t.match(anonymous.headers.get('www-authenticate'), /^Basic realm=/);
  const wrong = await fetch(`${sb.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from('AWS:guess').toString('base64')}` } });
  t.equal(wrong.status, 401, 'a password the sandbox did not issue is refused');

  const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]?.authorizationToken ?? '';
  const headers = { authorization: `Basic ${token}`, accept: ACCEPT_ALL };
  const base = await fetch(`${sb.url}/v2/`, { headers });
  t.equal(base.status, 200);
  t.equal(base.headers.get('docker-distribution-api-version'), 'registry/2.0');

  t.test('manifests by tag and digest, GET and HEAD', async (t) => {
    const digest = imageDigest(s.web);
    const byTag = await fetch(`${sb.url}/v2/web/manifests/1.4.2`, { headers });
    t.equal(byTag.status, 200);
    t.equal(byTag.headers.get('docker-content-digest'), digest);
    t.equal(byTag.headers.get('content-type'), MediaTypes.OCI_MANIFEST);
    const bytes = Buffer.from(await byTag.arrayBuffer());
    t.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, digest, 'the bytes hash to the digest');
    const head = await fetch(`${sb.url}/v2/web/manifests/${digest}`, { method: 'HEAD', headers });
    t.equal(head.status, 200);
    t.equal(head.headers.get('content-length'), String(bytes.byteLength));
    const index = await fetch(`${sb.url}/v2/web/manifests/multi`, { headers: { ...headers, accept: MediaTypes.OCI_MANIFEST } });
    t.equal(index.status, 404, 'an index is not served to a client that does not accept indexes');
    t.match(await index.json(), { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
    const archived = await fetch(`${sb.url}/v2/web/manifests/1.0.0`, { headers });
    t.equal(archived.status, 404, 'archived images cannot be pulled');
    const missingRepo = await fetch(`${sb.url}/v2/nope/manifests/1`, { headers });
    t.match(await missingRepo.json(), { errors: [{ code: 'NAME_UNKNOWN' }] });
    const nested = await fetch(`${sb.url}/v2/team/api/manifests/v1`, { headers });
    t.equal(nested.status, 200, 'repository names with slashes');
  });

  t.test('blobs redirect to a pre-signed layer URL, like ECR', async (t) => {
    const blobDigest = sha256Digest(s.envelope);
    const redirect = await fetch(`${sb.url}/v2/web/blobs/${blobDigest}`, { headers, redirect: 'manual' });
    t.equal(redirect.status, 307);
    t.match(redirect.headers.get('location'), `${sb.url}/layers/`);
    const followed = await fetch(`${sb.url}/v2/web/blobs/${blobDigest}`, { headers });
    t.same(Buffer.from(await followed.arrayBuffer()), s.envelope);
    const missing = await fetch(`${sb.url}/v2/web/blobs/${sha256Digest('nothing')}`, { headers });
    t.equal(missing.status, 404);
    t.equal(sb.calls('oci:GET blobs'), 3);
    t.equal(sb.calls('layer:GET'), 1);
  });

  t.test('referrers API: an OCI index of descriptors, filterable by artifactType', async (t) => {
    const subject = imageDigest(s.web);
    const r = await fetch(`${sb.url}/v2/web/referrers/${subject}?artifactType=${encodeURIComponent(NOTARY_SIGNATURE_ARTIFACT_TYPE)}`, { headers });
    t.equal(r.status, 200);
    t.equal(r.headers.get('content-type'), MediaTypes.OCI_INDEX);
    t.equal(r.headers.get('oci-filters-applied'), 'artifactType');
    const index = (await r.json()) as {
      schemaVersion: number;
      mediaType: string;
      manifests: Array<{ artifactType: string; digest: string; mediaType: string }>;
    };
    t.equal(index.schemaVersion, 2);
    t.equal(index.manifests.length, 1);
    t.equal(index.manifests[0]?.artifactType, NOTARY_SIGNATURE_ARTIFACT_TYPE);
    const sig = await fetch(`${sb.url}/v2/web/manifests/${index.manifests[0]?.digest}`, { headers });
    const manifest = (await sig.json()) as { subject: { digest: string } };
    t.equal(manifest.subject.digest, subject);
    const none = await fetch(`${sb.url}/v2/web/referrers/${subject}?artifactType=application/spdx%2Bjson`, { headers });
    t.same(((await none.json()) as { manifests: unknown[] }).manifests, []);
  });

  t.test('the Host header names another account registry', async (t) => {
    const u = new URL(sb.url);
    const body = await new Promise<{ status: number; digest: string | undefined }>((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: '/v2/web/manifests/1.4.2',
          method: 'GET',
          headers: { ...headers, host: `${OTHER_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com` },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, digest: res.headers['docker-content-digest'] as string | undefined }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    t.equal(body.status, 200);
    t.not(body.digest, imageDigest(s.web), 'the other account has a different web:1.4.2');
  });
});

t.test('update() moves a tag; every protocol sees the change at once', async (t) => {
  const s = standardFixture();
  const sb = await sandbox(t, s.fixture);
  const before = await fetch(`${sb.url}/v2/web/manifests/latest`, { method: 'HEAD', headers: { accept: ACCEPT_ALL } });
  t.equal(before.headers.get('docker-content-digest'), imageDigest(s.web));
  sb.update((f) => {
    const images = f.accounts['111122223333']!.regions['us-east-1']!.repositories[0]!.images;
    images[0]!.tags = ['1.4.2'];
    images[2]!.tags = ['multi', 'latest'];
  });
  const after = await fetch(`${sb.url}/v2/web/manifests/latest`, { method: 'HEAD', headers: { accept: ACCEPT_ALL } });
  t.equal(after.headers.get('docker-content-digest'), imageDigest(s.multi));
  t.throws(
    () =>
      sb.update((f) => {
        f.accounts['111122223333']!.regions['us-east-1']!.repositories[0]!.images[0]!.tags = ['multi'];
      }),
    { code: 'E_SANDBOX_FIXTURE', message: /tag 'multi' is on two images/ },
    'an invalid update throws',
  );
  const unchanged = await fetch(`${sb.url}/v2/web/manifests/latest`, { method: 'HEAD', headers: { accept: ACCEPT_ALL } });
  t.equal(unchanged.headers.get('docker-content-digest'), imageDigest(s.multi), 'and changes nothing');
});
