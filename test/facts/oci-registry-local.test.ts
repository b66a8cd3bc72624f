// The OCI distribution client against a tiny local registry, for what the AWS sandbox does
// not do: Bearer tokens, a referrers API that answers 404, redirects to another origin, a
// registry that ignores the artifactType filter or paginates, lying headers and descriptors.
import t from 'tap';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OciRegistryClient, referrersTag, type OciRegistryOptions } from '../../src/facts/oci/registry.ts';
import { parseChallenges } from '../../src/facts/oci/challenge.ts';
import { MAX_ENVELOPE_BYTES } from '../../src/facts/signature-budget.ts';
import { MediaTypes, NOTARY_SIGNATURE_ARTIFACT_TYPE, blobDescriptor, manifestBytes, sha256Digest, type Descriptor } from '../../src/dev/sandbox/index.ts';

const MiB = 1024 * 1024;
const live = () => AbortSignal.timeout(10_000);

function client(baseUrl: string, extra: Partial<OciRegistryOptions> = {}): OciRegistryClient {
  return new OciRegistryClient({ baseUrl, plainHttp: true, ...extra });
}

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

async function local(t: { teardown(fn: () => unknown): void }, handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    seen.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers });
    handler(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function send(res: ServerResponse, status: number, body: Uint8Array | string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

const ociErrorBody = (code: string) => JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] });

/** An image, a signature over it, and its envelope, with real digests. */
function signedImage(envelopeText = '{"signed":true}', extra: object = {}) {
  const image = manifestBytes({ schemaVersion: 2, mediaType: MediaTypes.OCI_MANIFEST, config: blobDescriptor(MediaTypes.OCI_CONFIG, '{}'), layers: [] });
  const subject = { mediaType: MediaTypes.OCI_MANIFEST, digest: sha256Digest(image), size: image.byteLength };
  const envelope = Buffer.from(envelopeText);
  const layer = blobDescriptor('application/jose+json', envelope);
  const signature = manifestBytes({
    schemaVersion: 2,
    mediaType: MediaTypes.OCI_MANIFEST,
    artifactType: NOTARY_SIGNATURE_ARTIFACT_TYPE,
    config: blobDescriptor(MediaTypes.OCI_EMPTY, '{}'),
    layers: [layer],
    subject,
    ...extra,
  });
  const descriptor = {
    mediaType: MediaTypes.OCI_MANIFEST,
    digest: sha256Digest(signature),
    size: signature.byteLength,
    artifactType: NOTARY_SIGNATURE_ARTIFACT_TYPE,
  };
  return { image, subject, envelope, layer, signature, descriptor };
}

const index = (manifests: object[]) => JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.OCI_INDEX, manifests });

t.test('the WWW-Authenticate parser', async (t) => {
  t.same(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
  ]);
  t.same(parseChallenges('Basic realm="x, y", Bearer realm=r'), [
    { scheme: 'basic', params: { realm: 'x, y' } },
    { scheme: 'bearer', params: { realm: 'r' } },
  ]);
  t.same(parseChallenges('Bearer realm="a\\"b",error="insufficient_scope"'), [{ scheme: 'bearer', params: { realm: 'a"b', error: 'insufficient_scope' } }]);
  t.same(parseChallenges(null), []);
  t.same(parseChallenges('  ,  '), []);
  t.same(parseChallenges('"'), [], 'garbage yields no challenge rather than a guess');
});

t.test('Bearer token flow: challenge, token, retry, cache until expiry', async (t) => {
  const sig = signedImage();
  let clock = 1_000_000;
  let tokensIssued = 0;
  const auth = await local(t, (req, res, url) => {
    const basic = `Basic ${Buffer.from('robot:s3cret').toString('base64')}`;
    if (req.headers.authorization !== basic) return send(res, 401, '{"details":"bad credentials"}');
    tokensIssued += 1;
    send(res, 200, JSON.stringify({ token: `tok-${tokensIssued}-${url.searchParams.getAll('scope').join('+')}`, expires_in: 300 }));
  });
  const registry = await local(t, (req, res, url) => {
    const scope = 'repository:team/app:pull';
    const valid = new RegExp(`^Bearer tok-\\d+-${scope}$`).test(req.headers.authorization ?? '');
    if (!valid) {
      return send(res, 401, ociErrorBody('UNAUTHORIZED'), { 'www-authenticate': `Bearer realm="${auth.url}/token",service="local.test",scope="${scope}"` });
    }
    if (url.pathname === `/v2/team/app/manifests/${sig.subject.digest}`) return send(res, 200, sig.image, { 'content-type': MediaTypes.OCI_MANIFEST });
    if (url.pathname.startsWith('/v2/team/app/referrers/')) return send(res, 200, index([sig.descriptor]), { 'content-type': MediaTypes.OCI_INDEX });
    if (url.pathname === `/v2/team/app/manifests/${sig.descriptor.digest}`) return send(res, 200, sig.signature, { 'content-type': MediaTypes.OCI_MANIFEST });
    if (url.pathname === `/v2/team/app/blobs/${sig.layer.digest}`) return send(res, 200, sig.envelope);
    send(res, 404, ociErrorBody('MANIFEST_UNKNOWN'));
  });
  const credentials = async () => ({ username: 'robot', password: 's3cret' });
  const oci = client(registry.url, { credentials, now: () => clock });

  const resolved = await oci.resolve('team/app', { digest: sig.subject.digest }, live());
  t.equal(resolved.digest, sig.subject.digest);
  t.equal(tokensIssued, 1);
  t.match(auth.seen[0]?.path, '/token?service=local.test&scope=repository%3Ateam%2Fapp%3Apull');
  t.same(
    registry.seen.map((s) => s.headers.authorization?.split(' ')[0] ?? 'none'),
    ['none', 'Bearer'],
    'anonymous, challenged, retried with the token',
  );

  const list = await oci.signatures('team/app', sig.subject.digest, live());
  t.equal(list.signatures.length, 1);
  t.equal(tokensIssued, 1, 'the token is reused for its lifetime');
  t.equal(registry.seen.filter((s) => !s.headers.authorization).length, 1, 'later requests carry the token up front');

  clock += 300_000;
  await oci.resolve('team/app', { digest: sig.subject.digest }, live());
  t.equal(tokensIssued, 2, 'an expired token is replaced before use');

  const wrong = client(registry.url, { credentials: async () => ({ username: 'robot', password: 'guess' }) });
  await t.rejects(wrong.resolve('team/app', { digest: sig.subject.digest }, live()), {
    code: 'ACCESS_DENIED',
    operation: 'GET token',
    message: /refused the configured credentials/,
  });
  await t.rejects(client(registry.url).resolve('team/app', { digest: sig.subject.digest }, live()), { code: 'ACCESS_DENIED', message: /an anonymous request/ });

  const concurrent = client(registry.url, { credentials });
  const before = tokensIssued;
  await Promise.all(Array.from({ length: 8 }, () => concurrent.resolve('team/app', { digest: sig.subject.digest }, live())));
  t.equal(tokensIssued - before, 1, 'concurrent challenges share one token request');
});

t.test('Bearer: insufficient scope, an http realm for an https registry, a realm that is not a URL', async (t) => {
  const registry = await local(t, (req, res) => {
    if (req.headers.authorization)
      return send(res, 401, ociErrorBody('DENIED'), {
        'www-authenticate': 'Bearer realm="http://127.0.0.1:1/token",error="insufficient_scope",scope="repository:x:pull"',
      });
    send(res, 401, ociErrorBody('UNAUTHORIZED'), { 'www-authenticate': 'Bearer realm="not a url"' });
  });
  await t.rejects(client(registry.url).resolve('x', { tag: 'a' }, live()), { code: 'ACCESS_DENIED', operation: 'GET token', message: /unusable token realm/ });
  const noChallenge = await local(t, (_req, res) => send(res, 401, ociErrorBody('UNAUTHORIZED')));
  await t.rejects(client(noChallenge.url).resolve('x', { tag: 'a' }, live()), { code: 'ACCESS_DENIED', message: /without a challenge/ });
});

t.test('referrers API answering 404 falls back to the sha256-<hex> tag', async (t) => {
  const sig = signedImage();
  const tag = referrersTag(sig.subject.digest);
  t.equal(tag, sig.subject.digest.replace(':', '-'));
  let tagged = true;
  const registry = await local(t, (req, res, url) => {
    if (url.pathname.includes('/referrers/')) return send(res, 404, '404 page not found', { 'content-type': 'text/plain' });
    if (url.pathname === `/v2/app/manifests/${tag}`) {
      if (!tagged) return send(res, 404, ociErrorBody('MANIFEST_UNKNOWN'));
      t.equal(req.headers.accept, MediaTypes.OCI_INDEX);
      return send(res, 200, index([sig.descriptor]), { 'content-type': MediaTypes.OCI_INDEX });
    }
    if (url.pathname === `/v2/app/manifests/${sig.descriptor.digest}`) return send(res, 200, sig.signature);
    if (url.pathname === `/v2/app/blobs/${sig.layer.digest}`) return send(res, 200, sig.envelope);
    send(res, 404, ociErrorBody(url.pathname.startsWith('/v2/app/') ? 'MANIFEST_UNKNOWN' : 'NAME_UNKNOWN'));
  });
  const list = await client(registry.url).signatures('app', sig.subject.digest, live());
  t.equal(list.source, 'referrers-tag');
  t.same(
    list.signatures.map((s) => Buffer.from(s.envelope).toString()),
    ['{"signed":true}'],
  );
  tagged = false;
  const none = await client(registry.url).signatures('app', sig.subject.digest, live());
  t.same({ source: none.source, listed: none.listed }, { source: 'referrers-tag', listed: 0 }, 'no tag: nothing refers to the digest');
  await t.rejects(client(registry.url).signatures('other', sig.subject.digest, live()), { code: 'REPOSITORY_NOT_FOUND' });
});

t.test('a registry that ignores the filter, paginates, and lists a signature about another image', async (t) => {
  const sig = signedImage();
  const other = signedImage('{"other":1}', { subject: { mediaType: MediaTypes.OCI_MANIFEST, digest: sha256Digest('another image'), size: 13 } });
  const sbom = { mediaType: MediaTypes.OCI_MANIFEST, digest: sha256Digest('sbom'), size: 4, artifactType: 'application/spdx+json' };
  const attestation = { mediaType: MediaTypes.OCI_INDEX, digest: sha256Digest('att'), size: 3 };
  const registry = await local(t, (_req, res, url) => {
    if (url.pathname === `/v2/app/referrers/${sig.subject.digest}`) {
      // No OCI-Filters-Applied header: every artifact type comes back, over two pages.
      if (url.searchParams.get('last') === null) {
        return send(res, 200, index([sbom, sig.descriptor]), {
          'content-type': MediaTypes.OCI_INDEX,
          link: `</v2/app/referrers/${sig.subject.digest}?last=2>; rel="next"`,
        });
      }
      return send(res, 200, index([attestation, { ...other.descriptor, annotations: { 'org.opencontainers.image.created': 'garbage' } }, sig.descriptor]), {
        'content-type': MediaTypes.OCI_INDEX,
      });
    }
    if (url.pathname === `/v2/app/manifests/${sig.descriptor.digest}`) return send(res, 200, sig.signature);
    if (url.pathname === `/v2/app/manifests/${other.descriptor.digest}`) return send(res, 200, other.signature);
    if (url.pathname === `/v2/app/blobs/${sig.layer.digest}`) return send(res, 200, sig.envelope);
    send(res, 404, ociErrorBody('MANIFEST_UNKNOWN'));
  });
  const list = await client(registry.url).signatures('app', sig.subject.digest, live());
  t.equal(list.signatures.length, 1, 'the duplicate listing is examined once');
  t.same(
    list.skipped.map((s) => s.problem),
    ['subject-mismatch'],
  );
  t.equal(list.listed, 2);
  const paths = registry.seen.map((s) => s.path);
  t.ok(
    paths.some((p) => p.includes('last=2')),
    'the Link header was followed',
  );
  t.notOk(
    paths.some((p) => p.includes(sbom.digest) || p.includes(attestation.digest)),
    'other artifact types are never fetched',
  );
});

t.test('blobs: redirects to another origin, size and digest checks, the envelope bound', async (t) => {
  const sig = signedImage();
  const STREAM = 64 * MiB;
  const streamed = { written: 0, closedEarly: false };
  const storage = await local(t, (_req, res, url) => {
    const object = url.pathname.slice('/bucket/'.length);
    if (object === 'envelope') return send(res, 200, sig.envelope);
    if (object === 'wrong') return send(res, 200, Buffer.alloc(sig.envelope.byteLength, 0x41));
    if (object === 'short') return send(res, 200, sig.envelope.subarray(1));
    if (object === 'declared-huge') {
      res.writeHead(200, { 'content-length': String(5 * MiB) });
      res.write(Buffer.alloc(64 * 1024));
      return; // never finishes: the client must not wait for it
    }
    if (object === 'streamed-huge') {
      res.writeHead(200); // chunked, no length
      const chunk = Buffer.alloc(64 * 1024, 0x42);
      const pump = (): void => {
        while (streamed.written < STREAM) {
          streamed.written += chunk.byteLength;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => {
        streamed.closedEarly = streamed.written < STREAM;
      });
      return pump();
    }
    send(res, 404, '');
  });
  // The registry wants Basic, then redirects every known blob to "object storage" on another origin.
  const objects = new Map<string, string>();
  const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
  const registry = await local(t, (req, res, url) => {
    if (req.headers.authorization !== basic) return send(res, 401, ociErrorBody('UNAUTHORIZED'), { 'www-authenticate': 'Basic realm="local"' });
    const object = objects.get(url.pathname.slice('/v2/app/blobs/'.length));
    if (object) return send(res, 307, '', { location: `${storage.url}/bucket/${object}` });
    send(res, 404, ociErrorBody('BLOB_UNKNOWN'));
  });
  const oci = client(registry.url, { credentials: async () => ({ username: 'u', password: 'p' }) });
  const stored = (object: string, d: Descriptor): Descriptor => {
    objects.set(d.digest, object);
    return d;
  };

  t.same(Buffer.from(await oci.blob('app', stored('envelope', sig.layer), live())), sig.envelope);
  t.equal(registry.seen.at(-1)?.headers.authorization, basic);
  t.equal(storage.seen.at(-1)?.headers.authorization, undefined, 'Authorization never follows a redirect to another origin');

  const unknown = { ...sig.layer, digest: sha256Digest('unknown') };
  await t.rejects(oci.blob('app', unknown, live()), { code: 'IMAGE_NOT_FOUND', operation: 'GET blobs', message: /BLOB_UNKNOWN/ });
  // Bytes that do not hash to the digest: no push can store them, so the registry (or the
  // transfer) is at fault, whatever their length: an error for onError, not a content problem.
  await t.rejects(oci.blob('app', stored('wrong', { ...sig.layer, digest: sha256Digest('other') }), live()), {
    name: 'FactError',
    code: 'AWS_ERROR',
    operation: 'GET blobs',
    message: /hash to sha256:.*a fault of the registry or the transfer/,
  });
  await t.rejects(
    oci.blob('app', stored('wrong', { ...sig.layer, digest: sha256Digest('other'), size: sig.layer.size + 10 }), live()),
    { name: 'FactError', code: 'AWS_ERROR', operation: 'GET blobs' },
    "a length off too does not make it the descriptor's fault",
  );
  // Bytes that do hash to it, but are not the size the descriptor states: the descriptor lies.
  await t.rejects(oci.blob('app', stored('short', { ...sig.layer, digest: sha256Digest(sig.envelope.subarray(1)) }), live()), {
    name: 'OciContentError',
    problem: 'size-mismatch',
    message: /bytes, not the/,
  });

  const before = registry.seen.length;
  const overLimit = new RegExp(`5242880 bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit`);
  await t.rejects(oci.blob('app', { ...sig.layer, size: 5 * MiB }, live()), { problem: 'too-large', message: overLimit });
  t.equal(registry.seen.length, before, 'a descriptor over the limit is refused without a request');

  const huge = { mediaType: 'application/jose+json', digest: sha256Digest('huge'), size: MAX_ENVELOPE_BYTES };
  await t.rejects(oci.blob('app', stored('declared-huge', huge), live()), { problem: 'too-large', message: overLimit }, 'Content-Length over the limit');
  await t.rejects(
    oci.blob('app', stored('streamed-huge', huge), live()),
    { problem: 'too-large', message: /stopped reading at/ },
    'no Content-Length: reading stops past the limit',
  );
  await new Promise((r) => setTimeout(r, 50));
  t.ok(streamed.closedEarly && streamed.written < 16 * MiB, `the connection was closed after ${streamed.written} of ${STREAM} bytes`);
  streamed.written = 0;
  const small = { mediaType: 'application/jose+json', digest: sha256Digest('small'), size: 1000 };
  await t.rejects(oci.blob('app', stored('streamed-huge', small), live()), {
    problem: 'size-mismatch',
    message: /larger than the 1000 bytes its descriptor states/,
  });

  const loop = await local(t, (_req, res, url) => send(res, 302, '', { location: `${url.pathname}x` }));
  await t.rejects(client(loop.url).blob('app', sig.layer, live()), { code: 'AWS_ERROR', message: /more than 5 redirects/ });
  t.equal(loop.seen.length, 6, 'the first request and five redirects');
});

t.test('manifests: no digest on HEAD, a lying Docker-Content-Digest, oversized manifests', async (t) => {
  const sig = signedImage();
  let claim: string | undefined;
  let huge = false;
  const registry = await local(t, (req, res, url) => {
    if (url.pathname === '/v2/app/manifests/v1') {
      if (req.method === 'HEAD') return send(res, 405, '');
      if (huge) return send(res, 200, Buffer.alloc(5 * MiB, 0x20), { 'content-type': MediaTypes.OCI_MANIFEST });
      return send(res, 200, sig.image, { 'content-type': `${MediaTypes.OCI_MANIFEST}; charset=utf-8`, ...(claim && { 'docker-content-digest': claim }) });
    }
    send(res, 404, ociErrorBody('MANIFEST_UNKNOWN'));
  });
  const oci = client(registry.url, { retries: 0 });
  const resolved = await oci.resolve('app', { tag: 'v1' }, live());
  t.equal(resolved.digest, sig.subject.digest, 'without a HEAD digest the bytes define it');
  t.equal(resolved.mediaType, MediaTypes.OCI_MANIFEST);
  claim = sha256Digest('a different manifest');
  await t.rejects(oci.resolve('app', { tag: 'v1' }, live()), { name: 'FactError', code: 'AWS_ERROR', message: /registry says app:v1 is sha256:/ });
  claim = undefined;
  huge = true;
  await t.rejects(oci.resolve('app', { tag: 'v1' }, live()), { code: 'INVALID_MANIFEST', problem: 'too-large', message: /over the 4194304-byte limit/ });
  const smaller = client(registry.url, { limits: { maxManifestBytes: 100 } });
  huge = false;
  await t.rejects(smaller.resolve('app', { tag: 'v1' }, live()), { name: 'OciContentError', problem: 'too-large' }, 'limits are configurable');
});

t.test('hostile input: the parsers never throw anything but content errors, and always end', async (t) => {
  const fc = (await import('fast-check')).default;
  const { parseReferrersIndex, parseSignatureManifest, nextPageUrl } = await import('../../src/facts/oci/referrers.ts');
  const { FactError } = await import('../../src/facts/errors.ts');
  const subject = sha256Digest('subject');
  const json = fc.jsonValue({ maxDepth: 6 }).map((v) => new TextEncoder().encode(JSON.stringify(v)));
  const bytes = fc.oneof(
    json,
    fc.uint8Array({ maxLength: 512 }),
    fc.string({ unit: 'grapheme-ascii' }).map((s) => new TextEncoder().encode(s)),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (header) => parseChallenges(header).every((c) => /^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(c.scheme))),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(bytes, (b) => {
      for (const parse of [() => parseReferrersIndex(b, 'GET referrers', 'x'), () => parseSignatureManifest(b, subject, subject, 'GET manifests')]) {
        try {
          parse();
        } catch (error) {
          if (!(error instanceof FactError)) throw error;
        }
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (link) => {
      const next = nextPageUrl(link, new URL('http://127.0.0.1:5000/v2/a/referrers/x'));
      return next === undefined || next.origin === 'http://127.0.0.1:5000'; // pagination never leaves the registry
    }),
    { numRuns: 2000 },
  );
  t.equal(nextPageUrl('<http://evil.example/v2/a/referrers/x?last=1>; rel="next"', new URL('http://127.0.0.1:5000/v2/')), undefined);
  t.pass('2000 runs each');
});
