import t from 'tap';
import { effectiveTag, parseImageReference, shortName } from '../../src/image/reference.ts';
import { ErrorCodes } from '../../src/support/errors.ts';

const HEX = '3c4c1f42a89e' + '0123456789abcdef'.repeat(3) + '0123';
const SHA = `sha256:${HEX}`;
const SHA512 = `sha512:${'ab'.repeat(64)}`;

interface Valid {
  ref: string;
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
  normalized: string;
}

const VALID: Valid[] = [
  // Docker Hub short names and the library/ namespace
  { ref: 'nginx', domain: 'docker.io', path: 'library/nginx', normalized: 'docker.io/library/nginx' },
  { ref: 'nginx:1.27', domain: 'docker.io', path: 'library/nginx', tag: '1.27', normalized: 'docker.io/library/nginx:1.27' },
  { ref: 'library/nginx:latest', domain: 'docker.io', path: 'library/nginx', tag: 'latest', normalized: 'docker.io/library/nginx:latest' },
  { ref: 'docker.io/nginx', domain: 'docker.io', path: 'library/nginx', normalized: 'docker.io/library/nginx' },
  { ref: 'docker.io/library/nginx:1', domain: 'docker.io', path: 'library/nginx', tag: '1', normalized: 'docker.io/library/nginx:1' },
  { ref: 'index.docker.io/library/busybox:1.36', domain: 'docker.io', path: 'library/busybox', tag: '1.36', normalized: 'docker.io/library/busybox:1.36' },
  { ref: 'index.docker.io/busybox', domain: 'docker.io', path: 'library/busybox', normalized: 'docker.io/library/busybox' },
  { ref: 'bitnami/redis:7.2', domain: 'docker.io', path: 'bitnami/redis', tag: '7.2', normalized: 'docker.io/bitnami/redis:7.2' },
  { ref: 'fluent/fluent-bit:3.0.7', domain: 'docker.io', path: 'fluent/fluent-bit', tag: '3.0.7', normalized: 'docker.io/fluent/fluent-bit:3.0.7' },
  { ref: 'a/b/c/d:e', domain: 'docker.io', path: 'a/b/c/d', tag: 'e', normalized: 'docker.io/a/b/c/d:e' },
  // Other registries, ports, localhost, IP addresses
  { ref: 'registry.k8s.io/pause:3.10', domain: 'registry.k8s.io', path: 'pause', tag: '3.10', normalized: 'registry.k8s.io/pause:3.10' },
  { ref: 'ghcr.io/example/report:7', domain: 'ghcr.io', path: 'example/report', tag: '7', normalized: 'ghcr.io/example/report:7' },
  {
    ref: 'quay.io/prometheus/node-exporter:v1.8.1',
    domain: 'quay.io',
    path: 'prometheus/node-exporter',
    tag: 'v1.8.1',
    normalized: 'quay.io/prometheus/node-exporter:v1.8.1',
  },
  {
    ref: 'gcr.io/distroless/static-debian12:nonroot',
    domain: 'gcr.io',
    path: 'distroless/static-debian12',
    tag: 'nonroot',
    normalized: 'gcr.io/distroless/static-debian12:nonroot',
  },
  {
    ref: 'public.ecr.aws/docker/library/alpine:3.20',
    domain: 'public.ecr.aws',
    path: 'docker/library/alpine',
    tag: '3.20',
    normalized: 'public.ecr.aws/docker/library/alpine:3.20',
  },
  { ref: 'localhost:5000/foo/bar:tag', domain: 'localhost:5000', path: 'foo/bar', tag: 'tag', normalized: 'localhost:5000/foo/bar:tag' },
  { ref: 'localhost/foo', domain: 'localhost', path: 'foo', normalized: 'localhost/foo' },
  {
    ref: 'registry.example.com:8443/team/app:v2',
    domain: 'registry.example.com:8443',
    path: 'team/app',
    tag: 'v2',
    normalized: 'registry.example.com:8443/team/app:v2',
  },
  { ref: '10.0.0.12:5000/app:1', domain: '10.0.0.12:5000', path: 'app', tag: '1', normalized: '10.0.0.12:5000/app:1' },
  { ref: '[::1]:5000/foo:1', domain: '[::1]:5000', path: 'foo', tag: '1', normalized: '[::1]:5000/foo:1' },
  { ref: '[2001:db8::1]/foo', domain: '[2001:db8::1]', path: 'foo', normalized: '[2001:db8::1]/foo' },
  // A "localhost:5000" with no path is Docker Hub's library/localhost, tag 5000: as docker does
  { ref: 'localhost:5000', domain: 'docker.io', path: 'library/localhost', tag: '5000', normalized: 'docker.io/library/localhost:5000' },
  // Upper case in the first component makes it a host (and hosts are case-insensitive)
  { ref: 'MyHost.Example.com/foo', domain: 'myhost.example.com', path: 'foo', normalized: 'myhost.example.com/foo' },
  { ref: 'Registry/app', domain: 'registry', path: 'app', normalized: 'registry/app' },
  // ECR
  {
    ref: '111122223333.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2',
    domain: '111122223333.dkr.ecr.us-east-1.amazonaws.com',
    path: 'web',
    tag: '1.4.2',
    normalized: '111122223333.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2',
  },
  {
    ref: '111122223333.DKR.ECR.US-EAST-1.AMAZONAWS.COM/team/web:1',
    domain: '111122223333.dkr.ecr.us-east-1.amazonaws.com',
    path: 'team/web',
    tag: '1',
    normalized: '111122223333.dkr.ecr.us-east-1.amazonaws.com/team/web:1',
  },
  {
    ref: '111122223333.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/nginx:1.27',
    domain: '111122223333.dkr.ecr.us-east-1.amazonaws.com',
    path: 'docker-hub/library/nginx',
    tag: '1.27',
    normalized: '111122223333.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/nginx:1.27',
  },
  // Digests: alone, with a tag, other algorithms
  { ref: `nginx@${SHA}`, domain: 'docker.io', path: 'library/nginx', digest: SHA, normalized: `docker.io/library/nginx@${SHA}` },
  { ref: `nginx:1.27@${SHA}`, domain: 'docker.io', path: 'library/nginx', tag: '1.27', digest: SHA, normalized: `docker.io/library/nginx:1.27@${SHA}` },
  { ref: `localhost:5000/app:v1@${SHA}`, domain: 'localhost:5000', path: 'app', tag: 'v1', digest: SHA, normalized: `localhost:5000/app:v1@${SHA}` },
  {
    ref: `111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@${SHA}`,
    domain: '111122223333.dkr.ecr.eu-west-1.amazonaws.com',
    path: 'web',
    digest: SHA,
    normalized: `111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@${SHA}`,
  },
  { ref: `nginx@${SHA512}`, domain: 'docker.io', path: 'library/nginx', digest: SHA512, normalized: `docker.io/library/nginx@${SHA512}` },
  // Tags: the grammar's edges
  {
    ref: `nginx:${'a'.repeat(128)}`,
    domain: 'docker.io',
    path: 'library/nginx',
    tag: 'a'.repeat(128),
    normalized: `docker.io/library/nginx:${'a'.repeat(128)}`,
  },
  { ref: 'nginx:_x', domain: 'docker.io', path: 'library/nginx', tag: '_x', normalized: 'docker.io/library/nginx:_x' },
  { ref: 'nginx:V1.2-RC_3', domain: 'docker.io', path: 'library/nginx', tag: 'V1.2-RC_3', normalized: 'docker.io/library/nginx:V1.2-RC_3' },
  // Path component separators: . _ __ and runs of -
  { ref: 'foo__bar', domain: 'docker.io', path: 'library/foo__bar', normalized: 'docker.io/library/foo__bar' },
  { ref: 'foo--bar/a.b_c', domain: 'docker.io', path: 'foo--bar/a.b_c', normalized: 'docker.io/foo--bar/a.b_c' },
  // Name lengths: 255 characters is the limit
  { ref: 'a'.repeat(255), domain: 'docker.io', path: `library/${'a'.repeat(255)}`, normalized: `docker.io/library/${'a'.repeat(255)}` },
  { ref: `example.com/${'b'.repeat(243)}`, domain: 'example.com', path: 'b'.repeat(243), normalized: `example.com/${'b'.repeat(243)}` },
];

t.test('valid references parse into domain, path, tag, digest and the normalized form', async (t) => {
  for (const v of VALID) {
    const r = parseImageReference(v.ref);
    t.same(
      { domain: r.domain, path: r.path, tag: r.tag, digest: r.digest, normalized: r.normalized, original: r.original },
      { domain: v.domain, path: v.path, tag: v.tag, digest: v.digest, normalized: v.normalized, original: v.ref },
      v.ref.length > 80 ? `${v.ref.slice(0, 60)}... (${v.ref.length} chars)` : v.ref,
    );
  }
});

t.test('policyName: the reference as a node pulls it, an ECR registry by its canonical host', async (t) => {
  const ecr = '111122223333.dkr.ecr.us-east-1.amazonaws.com';
  const cases: Array<[string, string]> = [
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    [`nginx@${SHA}`, `docker.io/library/nginx@${SHA}`],
    [`nginx:1.27@${SHA}`, `docker.io/library/nginx:1.27@${SHA}`],
    [`${ecr}/prod/app`, `${ecr}/prod/app:latest`],
    // FIPS and dual-stack endpoints are the same registry (AWS: "Amazon ECR endpoints").
    ['111122223333.dkr.ecr-fips.us-east-1.amazonaws.com/prod/app:1', `${ecr}/prod/app:1`],
    ['111122223333.dkr-ecr.us-east-1.on.aws/prod/app:1', `${ecr}/prod/app:1`],
    [`111122223333.dkr-ecr-fips.us-east-1.on.aws/prod/app@${SHA}`, `${ecr}/prod/app@${SHA}`],
    ['111122223333.DKR-ECR.US-EAST-1.ON.AWS/prod/app', `${ecr}/prod/app:latest`],
    ['111122223333.dkr-ecr.cn-north-1.on.aws/app:1', '111122223333.dkr-ecr.cn-north-1.on.aws/app:1'],
    ['111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/app:1', '111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/app:1'],
    ['111122223333.dkr-ecr.us-gov-west-1.on.aws/app:1', '111122223333.dkr.ecr.us-gov-west-1.amazonaws.com/app:1'],
    // HTTPS's own port, and Docker Hub's API host, name the same registries.
    ['111122223333.dkr.ecr.us-east-1.amazonaws.com:443/prod/app:1', `${ecr}/prod/app:1`],
    ['ghcr.io:443/org/app:1', 'ghcr.io/org/app:1'],
    ['registry-1.docker.io/library/nginx:1', 'docker.io/library/nginx:1'],
    ['registry.example.com:8443/app:1', 'registry.example.com:8443/app:1'],
    // Not ECR: as written.
    ['111122223333.dkr.ecr.us-east-1.amazonaws.com.evil.example/app:1', '111122223333.dkr.ecr.us-east-1.amazonaws.com.evil.example/app:1'],
  ];
  for (const [ref, name] of cases) t.equal(parseImageReference(ref).policyName, name, ref);
});

const INVALID: Array<[ref: unknown, why: RegExp]> = [
  ['', /empty/],
  [' nginx', /whitespace/],
  ['nginx ', /whitespace/],
  ['nginx\n', /whitespace/],
  ['ngi nx', /path component/],
  ['nginx:1 .2', /tag/],
  // Upper case in the repository path
  ['Nginx', /path component "Nginx"/],
  ['docker.io/library/NGINX:1', /path component "NGINX"/],
  ['111122223333.dkr.ecr.us-east-1.amazonaws.com/Web:1', /path component "Web"/],
  ['foo/Bar', /path component "Bar"/],
  // Bad digests: wrong length, upper-case hex, unknown algorithm, no hex at all
  ['nginx@sha256:abc', /sha256 digest must be 64 lower-case hex/],
  [`nginx@sha256:${HEX}0`, /sha256 digest must be 64 lower-case hex/],
  [`nginx@sha256:${HEX.toUpperCase()}`, /sha256 digest must be 64 lower-case hex/],
  [`nginx@sha256:${'g'.repeat(64)}`, /sha256 digest must be 64 lower-case hex/],
  [`nginx@md5:${'a'.repeat(32)}`, /unsupported digest algorithm "md5"/],
  [`nginx@SHA256:${HEX}`, /not algorithm:hex/],
  ['nginx@', /not algorithm:hex/],
  [`nginx@${HEX}`, /not algorithm:hex/],
  [`nginx@sha256:${HEX}@sha256:${HEX}`, /not algorithm:hex/],
  // Tags: 129 characters, empty, leading . or -, bad characters
  [`nginx:${'a'.repeat(129)}`, /tag .* is not valid/],
  ['nginx:', /tag "" is not valid/],
  ['nginx:.x', /tag ".x" is not valid/],
  ['nginx:-x', /tag "-x" is not valid/],
  ['nginx:a+b', /tag "a\+b" is not valid/],
  // Names: 256 characters, empty, bad separators, bad hosts
  ['a'.repeat(256), /longer than 255/],
  [`example.com/${'b'.repeat(244)}`, /longer than 255/],
  [':tag', /no repository name/],
  [`@${SHA}`, /no repository name/],
  ['foo___bar', /path component/],
  ['foo.-bar', /path component/],
  ['foo//bar', /path component ""/],
  ['foo/', /path component ""/],
  ['-host.com/x', /registry host/],
  ['a_b.example.com/x', /registry host/],
  ['example.com:/x', /registry host/],
  ['example.com:port/x', /registry host/],
  ['[fe80::1%25eth0]/x', /registry host/],
  ['exa mple.com/x', /registry host/],
  ['111122223333.dkr.ecr.us-east-1.\u0430mazonaws.com/web:1', /registry host/],
  ['x'.repeat(5000), /longer than 4096/],
  [42, /not a string/],
  [null, /not a string/],
];

t.test('invalid references are refused with a reason and a stable code', async (t) => {
  for (const [ref, why] of INVALID) {
    const label = typeof ref === 'string' ? JSON.stringify(ref.length > 60 ? `${ref.slice(0, 50)}...` : ref) : String(ref);
    t.throws(() => parseImageReference(ref), { code: ErrorCodes.REFERENCE_INVALID, message: why }, label);
  }
});

t.test('error messages quote a truncated reference, never a huge one', async (t) => {
  const err = t.throws(() => parseImageReference(`${'a'.repeat(300)}:${'b'.repeat(200)}`)) as Error;
  t.ok(err.message.length < 600, `message is ${err.message.length} chars`);
});

t.test('effectiveTag: what kubelet pulls', async (t) => {
  t.equal(effectiveTag(parseImageReference('nginx')), 'latest');
  t.equal(effectiveTag(parseImageReference('nginx:1.27')), '1.27');
  t.equal(effectiveTag(parseImageReference(`nginx@${SHA}`)), undefined, 'a digest alone names no tag');
  t.equal(effectiveTag(parseImageReference(`nginx:1.27@${SHA}`)), '1.27');
});

t.test('shortName keeps warnings short', async (t) => {
  t.equal(shortName(parseImageReference('111122223333.dkr.ecr.us-east-1.amazonaws.com/team/web:1.4.2')), 'web:1.4.2');
  t.equal(shortName(parseImageReference(`nginx@${SHA}`)), `nginx@sha256:${HEX.slice(0, 12)}`);
});
