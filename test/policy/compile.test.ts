import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseImageReference } from '../../src/image/reference.ts';
import { globMatcher, imageMatcher, validateImagePattern } from '../../src/policy/glob.ts';
import { compileText, ECR } from '../fixtures/policy.ts';

const POLICY = `mode: enforce
onError: deny
registries:
  ecr:
    - accountId: "111122223333"
      regions: [us-east-1]
    - accountId: "444455556666"
  allow: ["registry.k8s.io/pause:*", "*.example.com/*"]
namespaces:
  exclude: [kube-system, "sandbox-*"]
checks:
  immutability: true
overrides:
  - { name: legacy-audit, namespaces: ["legacy"], images: ["${ECR}/legacy/*"], mode: audit }
  - { name: legacy-warn, namespaces: ["legacy"], mode: warn, onError: allow }
  - { name: batch-warn, namespaces: ["batch-*"], images: ["*"], mode: warn }
  - { name: batch-no-immutability, namespaces: ["batch-*"], checks: { immutability: false } }
  - { name: pause-anywhere, images: ["registry.k8s.io/*"], checks: { immutability: false } }
`;

const ref = (s: string) => parseImageReference(s);

t.test('overrides: first match wins, by namespace and image', async (t) => {
  const p = compileText(POLICY);
  const cases: Array<[ns: string, image: string, name: string, mode: string, onError: string]> = [
    ['team-a', `${ECR}/web:1`, 'default', 'enforce', 'deny'],
    ['legacy', `${ECR}/legacy/app:1`, 'legacy-audit', 'audit', 'deny'],
    ['legacy', `${ECR}/web:1`, 'legacy-warn', 'warn', 'allow'],
    ['legacy', 'registry.k8s.io/pause:3.10', 'legacy-warn', 'warn', 'allow'],
    ['batch-nightly', `${ECR}/report:7`, 'batch-warn', 'warn', 'deny'],
    ['batch', `${ECR}/report:7`, 'default', 'enforce', 'deny'],
    ['team-a', 'registry.k8s.io/pause:3.10', 'pause-anywhere', 'enforce', 'deny'],
    ['team-a', `${ECR}/legacy/app:1`, 'default', 'enforce', 'deny'],
  ];
  for (const [ns, image, name, mode, onError] of cases) {
    const e = p.forImage(ns, ref(image));
    t.same({ name: e.name, mode: e.mode, onError: e.onError }, { name, mode, onError }, `${ns} ${image}`);
  }
});

t.test('an override with checks replaces the named check and keeps the rest', async (t) => {
  const p = compileText(POLICY);
  t.same(p.forImage('team-a', ref(`${ECR}/web:1`)).checks, { immutability: true });
  t.same(p.forImage('team-a', ref('registry.k8s.io/pause:3.10')).checks, { immutability: false });
  t.equal(p.forImage('batch-x', ref(`${ECR}/web:1`)).name, 'batch-warn', 'the earlier match shadows the later one');
  t.ok(Object.isFrozen(p.forImage('team-a', ref('registry.k8s.io/pause:3.10')).checks));
});

t.test("namespace exclusion, including the webhook's own namespace", async (t) => {
  const p = compileText(POLICY, { ownNamespace: 'ecr-admission' });
  t.ok(p.isNamespaceExcluded('kube-system'));
  t.ok(p.isNamespaceExcluded('sandbox-1'));
  t.ok(p.isNamespaceExcluded('ecr-admission'), 'own namespace always excluded');
  t.notOk(p.isNamespaceExcluded('kube-public'));
  t.notOk(p.isNamespaceExcluded('sandbox'), 'sandbox-* needs the dash');
  t.notOk(p.isNamespaceExcluded('ecr-admission-test'), 'the own namespace is matched exactly, not as a prefix');
  t.notOk(p.isNamespaceExcluded('xkube-system'));
  const noOwn = compileText(POLICY);
  t.notOk(noOwn.isNamespaceExcluded('ecr-admission'));
});

t.test('image patterns: a wildcard never decides the registry host from the path', async (t) => {
  const p = compileText(POLICY);
  t.ok(p.allowImage('registry.k8s.io/pause:3.10'));
  t.ok(p.allowImage('r.example.com/team/app:1'));
  t.ok(p.allowImage('a.b.example.com/x'));
  t.notOk(p.allowImage('evil.com/x.example.com/y'), '"*.example.com/*" must not match evil.com/x.example.com/y');
  t.notOk(p.allowImage('evil.com/x.example.com/y:1'));
  t.notOk(p.allowImage('example.com/app'), '"*." needs a label before example.com');
  t.notOk(p.allowImage('r.example.com.evil.com/app:1'));
  t.notOk(p.allowImage('registry.k8s.io/pause-evil/x:1'));
  t.notOk(p.allowImage('registry.k8s.io/pause/evil:1'));
  t.notOk(p.allowImage('evil.com/registry.k8s.io/pause:3.10'));
  t.notOk(p.allowImage('docker.io/library/registry.k8s.io'));

  const m = imageMatcher('*.example.com/*');
  t.notOk(m('evil.com/x.example.com/y'));
  t.notOk(m('x.example.com'), 'a value without a path');
  t.ok(imageMatcher('*')('anything/at:all'));
  t.notOk(imageMatcher('*.example.com')('evil.com/x.example.com'), 'a pattern without "/" matches nothing');
  t.ok(imageMatcher('REGISTRY.K8S.IO/pause:*')('registry.k8s.io/pause:3.10'), 'the host part is case-insensitive');
  t.ok(imageMatcher('*/legacy/*')(`${ECR}/legacy/app:1`));
  t.notOk(imageMatcher('*/legacy/*')(`${ECR}/web/legacy/app:1`));
  t.ok(imageMatcher('docker.io/library/nginx:1.2?')('docker.io/library/nginx:1.27'));
  t.notOk(imageMatcher('docker.io/library/nginx:1.2?')('docker.io/library/nginx:1.2'));
});

t.test('image pattern validation', async (t) => {
  t.equal(validateImagePattern('*'), undefined);
  t.equal(validateImagePattern('*.example.com/*'), undefined);
  t.match(validateImagePattern('*.example.com'), /needs a registry host and a path/);
  t.match(validateImagePattern('nginx:*'), /needs a registry host and a path/);
  t.match(validateImagePattern('a b/c'), /whitespace/);
  t.match(validateImagePattern(''), /empty/);
  // References are matched with an ECR registry's canonical host: a FIPS or dual-stack host in a
  // pattern would match nothing, and is refused with the host to write instead.
  t.equal(validateImagePattern('111122223333.dkr.ecr.us-east-1.amazonaws.com/prod/*'), undefined);
  t.equal(validateImagePattern('*.dkr.ecr.*.amazonaws.com/prod/*'), undefined);
  t.match(
    validateImagePattern('111122223333.dkr-ecr.us-east-1.on.aws/prod/*'),
    /names registry host 111122223333\.dkr-ecr\.us-east-1\.on\.aws: write 111122223333\.dkr\.ecr\.us-east-1\.amazonaws\.com/,
  );
  t.match(validateImagePattern('111122223333.dkr.ecr-fips.us-east-1.amazonaws.com/prod/*'), /write 111122223333\.dkr\.ecr\.us-east-1\.amazonaws\.com/);
  t.match(validateImagePattern('111122223333.dkr.ecr.us-east-1.amazonaws.com:443/prod/*'), /write 111122223333\.dkr\.ecr\.us-east-1\.amazonaws\.com/);
  t.match(validateImagePattern('registry-1.docker.io/library/*'), /write docker\.io/);
  t.match(validateImagePattern('*.dkr-ecr.*.on.aws/*'), /canonical host/, 'a wildcard host that could only match another spelling');
  t.equal(validateImagePattern('registry.example.com:8443/*'), undefined, 'another port is another server');
});

t.test('an exact pattern without a tag names what a tagless reference pulls: its latest', async (t) => {
  // References without a tag are matched as REPO:latest (image/reference.ts policyNameOf).
  t.ok(imageMatcher('docker.io/library/nginx')('docker.io/library/nginx:latest'));
  t.notOk(imageMatcher('docker.io/library/nginx')('docker.io/library/nginx:1.27'), 'as before: not another tag');
  t.ok(imageMatcher('docker.io/library/nginx:1.27')('docker.io/library/nginx:1.27'));
  t.ok(imageMatcher('docker.io/library/nginx*')('docker.io/library/nginx:latest'), 'a wildcard pattern is as written');
  t.ok(imageMatcher('localhost:5000/app')('localhost:5000/app:latest'), 'a port in the host is not a tag');
});

t.test('namespace globs', async (t) => {
  t.ok(globMatcher('batch-*')('batch-nightly'));
  t.notOk(globMatcher('batch-*')('xbatch-nightly'));
  t.ok(globMatcher('team-?')('team-a'));
  t.notOk(globMatcher('team-?')('team-ab'));
  t.ok(globMatcher('a.b')('a.b'));
  t.notOk(globMatcher('a.b*')('axb'), 'regex characters are literal');
  t.notOk(globMatcher('(a|b)*')('a'), 'regex characters are literal');
});

t.test('ecr accounts and the hint naming the allowed registries', async (t) => {
  const p = compileText(POLICY);
  t.same([...p.ecrAccounts.keys()], ['111122223333', '444455556666']);
  t.equal(p.describeAllowedRegistries(), 'ECR 111122223333 (us-east-1); ECR 444455556666; non-ECR registry.k8s.io/pause:*, *.example.com/*');
  t.equal(compileText('mode: enforce\n').describeAllowedRegistries(), 'none (the policy allows no registry)');
});

t.test('signature trust and vulnerability exceptions are compiled at load, per base policy and per override', async (t) => {
  const root = join(import.meta.dirname, '..', 'fixtures', 'notation', 'NotationTestRoot.pem');
  const alpine = join(import.meta.dirname, '..', 'fixtures', 'notation', 'alpine-root.pem');
  const p = compileText(`checks:
  signature:
    trustStores: [{ type: ca, path: ${root} }]
    trustedIdentities: ["x509.subject: C=US, ST=WA, O=Notary, CN=alpine"]
  vulnerabilities:
    exceptions:
      - { id: cve-2025-0001, images: ["*/legacy/*"], expires: 2027-03-01, reason: r }
overrides:
  - { name: warn-only, namespaces: [w], mode: warn }
  - name: own-trust
    namespaces: [o]
    checks:
      signature: { trustStores: [{ type: ca, path: ${alpine} }], trustedIdentities: ["*"], revocation: skip }
  - name: same-trust
    namespaces: [s]
    checks:
      signature: { trustStores: [{ type: ca, path: ${alpine} }], trustedIdentities: ["*"], revocation: skip }
`);
  const base = p.base.trust;
  t.ok(base, 'the base policy has its trust');
  t.equal(base?.trustStores[0]?.certificates[0]?.fingerprint256, new X509Certificate(readFileSync(root)).fingerprint256, 'with the store read at load');
  t.same(
    base?.identities.map((i) => i.kind),
    ['x509Subject'],
    'and the identity parsed',
  );
  t.match(base?.settingsKey, /^[0-9a-f]{64}$/, 'and the verdict key hashed');
  t.equal(p.forImage('w', ref(`${ECR}/web:1`)).trust, base, 'an override without checks.signature keeps the very same compiled trust');
  const own = p.forImage('o', ref(`${ECR}/web:1`)).trust;
  t.equal(own?.revocation, 'skip', 'an override with its own checks.signature has its own trust');
  t.not(own?.settingsKey, base?.settingsKey);
  t.equal(p.forImage('s', ref(`${ECR}/web:1`)).trust?.settingsKey, own?.settingsKey, 'the same settings hash to the same key');
  t.same(
    p.forImage('w', ref(`${ECR}/web:1`)).vulnerabilityExceptions?.map((e) => [e.id, e.endsAt]),
    [['CVE-2025-0001', Date.parse('2027-03-02T00:00:00Z')]],
    'exceptions compiled: id upper case, ends the day after',
  );
  t.ok(p.base.vulnerabilityExceptions?.[0]?.matches(`${ECR}/legacy/app:1`));
  t.notOk(p.base.vulnerabilityExceptions?.[0]?.matches(`${ECR}/web:1`));
  t.same(p.trustStorePaths, [root, alpine]);
  t.equal(compileText('mode: enforce\n').base.trust, undefined, 'no checks.signature, no trust');
});
