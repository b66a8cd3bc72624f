import t from 'tap';
import { join } from 'node:path';
import { loadPolicyFile, parsePolicy } from '../../src/policy/load.ts';
import { ErrorCodes } from '../../src/support/errors.ts';
import { generateSelfSigned } from '../../src/server/self-signed.ts';

const CA_PEM = (await generateSelfSigned()).caPem;

/** The problems of a refused policy, as "line: path: message" strings. */
function problems(text: string): string[] {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code !== ErrorCodes.CONFIG_INVALID) throw err;
    return e.message
      .split('\n')
      .slice(1)
      .map((l) => l.trim().replace(/^p\.yaml/, ''));
  }
  throw new Error('policy was accepted');
}

/** Texts that hold no policy: an empty ConfigMap key, whitespace, comments, a YAML null. */
const EMPTY_POLICIES: Array<[label: string, text: string]> = [
  ['an empty file', ''],
  ['only newlines and spaces', '\n  \n\t\n'],
  ['only a comment', '# only a comment\n'],
  ['comments and a document marker', '# policy\n---\n# nothing yet\n'],
  ['a document end marker', '---\n...\n'],
  ['a YAML null', 'null\n'],
  ['a YAML ~', '~\n'],
  ['a byte order mark only', '\ufeff'],
];

t.test('an empty policy file is refused, naming the file, instead of meaning the defaults', async (t) => {
  for (const [label, text] of EMPTY_POLICIES) {
    t.throws(
      () => parsePolicy(text, '/etc/ecr-admission/policy.yaml'),
      {
        code: ErrorCodes.CONFIG_INVALID,
        message:
          /^invalid policy file \/etc\/ecr-admission\/policy\.yaml:\n {2}\/etc\/ecr-admission\/policy\.yaml: \(top level\): the file holds no policy \(it is empty, or only whitespace, comments or a YAML null\); check the ConfigMap key/,
      },
      label,
    );
  }
  const dir = t.testdir({ 'empty.yaml': '' });
  t.throws(
    () => loadPolicyFile(join(dir, 'empty.yaml')),
    { code: ErrorCodes.CONFIG_INVALID, message: /empty\.yaml: \(top level\): the file holds no policy/ },
    'through loadPolicyFile too',
  );
});

t.test('an explicit empty mapping or a minimal file gets every default', async (t) => {
  for (const text of ['{}\n', '# a comment\n{}\n', 'mode: enforce\n']) {
    const { policy, version, source } = parsePolicy(text, 'p.yaml');
    t.equal(source, 'p.yaml');
    t.match(version, /^[0-9a-f]{12}$/);
    t.equal(policy.mode, 'enforce');
    t.equal(policy.onError, 'deny');
    t.same([policy.registries.ecr, policy.registries.allow], [[], []], 'no registry allowed by default');
    t.same(policy.namespaces, { exclude: [] });
    t.same(policy.checks, {});
    t.same(policy.overrides, []);
    t.match(policy.cache, {
      maxEntries: 10_000,
      ttlSeconds: { mutableTag: 15, immutableTag: 3600, repository: 300, digest: 3600, revocation: 300, findings: 300, notFound: 10 },
      staleSeconds: 300,
    });
    t.match(policy.aws, { endpoints: {}, maxAttempts: 3 });
  }
});

t.test('the DESIGN.md example loads as written', async (t) => {
  const dir = t.testdir({ 'aws-signer-root.pem': CA_PEM });
  const text = `mode: enforce
onError: deny
registries:
  ecr:
    - accountId: "111122223333"
      regions: [us-east-1, us-west-2]
  allow: ["registry.k8s.io/pause:*"]
namespaces:
  exclude: [kube-system]
checks:
  immutability: true
  signature:
    trustStores:
      - { type: signingAuthority, path: ${join(dir, 'aws-signer-root.pem')} }
    trustedIdentities: ["arn:aws:signer:us-east-1:111122223333:/signing-profiles/release", "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine"]
    revocation: enforce
  vulnerabilities:
    denySeverities: [CRITICAL]
    notScanned: deny
    exceptions:
      - { id: CVE-2025-0001, images: ["*/legacy/*"], expires: 2027-03-01, reason: "vendor fix due" }
overrides:
  - { name: batch-warn, namespaces: ["batch-*"], images: ["*"], mode: warn }
`;
  const { policy } = parsePolicy(text, 'design.yaml');
  t.equal(policy.registries.ecr[0]?.accountId, '111122223333');
  t.equal(policy.checks.immutability, true);
  t.equal(policy.checks.signature?.trustStores?.[0]?.type, 'signingAuthority');
  t.equal(policy.checks.vulnerabilities?.exceptions?.[0]?.expires, '2027-03-01', 'a YAML date stays the string it was written as');
  t.equal(policy.overrides[0]?.mode, 'warn');
});

t.test('the loaded policy is frozen all the way down', async (t) => {
  const { policy } = parsePolicy('registries:\n  ecr:\n    - accountId: "111122223333"\n      regions: [us-east-1]\n', 'p.yaml');
  t.ok(Object.isFrozen(policy));
  t.ok(Object.isFrozen(policy.registries.ecr));
  t.ok(Object.isFrozen(policy.registries.ecr[0]));
  t.ok(Object.isFrozen(policy.registries.ecr[0]?.regions));
  t.ok(Object.isFrozen(policy.cache.ttlSeconds));
  t.throws(() => {
    (policy as { mode: string }).mode = 'audit';
  }, TypeError);
  t.throws(() => {
    (policy.registries.ecr as unknown as string[]).push('x');
  }, TypeError);
});

t.test('the version changes with the content', async (t) => {
  t.not(parsePolicy('mode: enforce\n').version, parsePolicy('mode: warn\n').version);
  t.equal(parsePolicy('mode: warn\n').version, parsePolicy('mode: warn\n').version);
});

t.test('every refusal names the key path and its line', async (t) => {
  const cases: Array<[label: string, text: string, want: RegExp]> = [
    ['unknown top-level key', 'mode: enforce\nmodes: warn\n', /^:2: modes: unknown key$/],
    [
      'unknown nested key points at the key, not at its value on the next line',
      'mode: enforce\nchecks:\n  signatur:\n    trustStores: []\n',
      /^:3: checks\.signatur: unknown key$/,
    ],
    [
      'unknown key inside a list item',
      'registries:\n  ecr:\n    - accountId: "111122223333"\n      region: us-east-1\n',
      /^:4: registries\.ecr\[0\]\.region: unknown key$/,
    ],
    ['unknown key in a flow mapping', 'overrides:\n  - { name: a, namespaces: [x], mode: warn, mdoe: audit }\n', /^:2: overrides\[0\]\.mdoe: unknown key$/],
    ['wrong type', 'namespaces:\n  exclude: kube-system\n', /^:2: namespaces\.exclude: must be array$/],
    ['wrong type for a block value points at its key', 'registries:\n  ecr:\n    accountId: "111122223333"\n', /^:2: registries\.ecr: must be array$/],
    [
      'unquoted account id (a number)',
      'registries:\n  ecr:\n    - accountId: 111122223333\n',
      /^:3: registries\.ecr\[0\]\.accountId: must be string \(a 12-digit AWS account id, quoted\)$/,
    ],
    ['bad enum', '\n\nmode: enforcing\n', /^:3: mode: must be one of "enforce", "warn", "audit"$/],
    [
      'bad enum in an override',
      'overrides:\n  - name: x\n    namespaces: [a]\n    onError: ignore\n',
      /^:4: overrides\[0\]\.onError: must be one of "deny", "allow"$/,
    ],
    ['bad pattern (account id)', 'registries:\n  ecr:\n    - accountId: "12345"\n', /^:3: registries\.ecr\[0\]\.accountId: must match pattern/],
    [
      'bad pattern (region)',
      'registries:\n  ecr:\n    - accountId: "111122223333"\n      regions: [US-EAST-1]\n',
      /^:4: registries\.ecr\[0\]\.regions\[0\]: must match pattern/,
    ],
    ['bad endpoint URL', 'aws:\n  endpoints:\n    ecr: "ftp://x"\n', /^:3: aws\.endpoints\.ecr: must match pattern/],
    [
      'missing required key',
      'checks:\n  signature:\n    trustedIdentities: ["*"]\n',
      /^:2: checks\.signature\.trustStores: required when formats includes notation$/,
    ],
    [
      'empty list where one entry is needed',
      'checks:\n  vulnerabilities:\n    denySeverities: []\n',
      /^:3: checks\.vulnerabilities\.denySeverities: must NOT have fewer than 1 items$/,
    ],
    ['number out of range', 'cache:\n  maxEntries: 1\n', /^:2: cache\.maxEntries: must be >= 10$/],
    ['null where a mapping is needed', 'checks:\n  signature:\n', /^:2: checks\.signature: must be object$/],
    [
      'bad exception date',
      'checks:\n  vulnerabilities:\n    exceptions:\n      - { id: CVE-1, images: ["*/x/*"], expires: 2027-02-30, reason: r }\n',
      /^:4: checks\.vulnerabilities\.exceptions\[0\]\.expires: "2027-02-30" is not a calendar date$/,
    ],
    [
      'exception date in another format',
      'checks:\n  vulnerabilities:\n    exceptions:\n      - { id: CVE-1, images: ["*/x/*"], expires: "01/03/2027", reason: r }\n',
      /^:4: checks\.vulnerabilities\.exceptions\[0\]\.expires: must match pattern/,
    ],
    [
      'duplicate override names',
      'overrides:\n  - { name: a, namespaces: ["x"], mode: warn }\n  - { name: a, namespaces: ["y"], mode: audit }\n',
      /^:3: overrides\[1\]\.name: override name "a" is used twice$/,
    ],
    [
      'override that matches nothing in particular',
      'overrides:\n  - { name: a, mode: warn }\n',
      /^:2: overrides\[0\]: an override needs "namespaces" or "images"/,
    ],
    [
      'override that changes nothing',
      'overrides:\n  - { name: a, namespaces: [x] }\n',
      /^:2: overrides\[0\]: an override must set at least one of mode, onError, checks$/,
    ],
    [
      'same account twice',
      'registries:\n  ecr:\n    - accountId: "111122223333"\n    - accountId: "111122223333"\n',
      /^:4: registries\.ecr\[1\]\.accountId: account 111122223333 is listed twice$/,
    ],
    [
      'untrusted identity syntax',
      'checks:\n  signature:\n    trustStores: [{ type: ca, path: /dev/null }]\n    trustedIdentities: ["release"]\n',
      /^:4: checks\.signature\.trustedIdentities\[0\]: .*"release"/,
    ],
    [
      'image pattern without a host',
      'registries:\n  allow: ["*.example.com"]\n',
      /^:2: registries\.allow\[0\]: image pattern "\*\.example\.com" needs a registry host and a path/,
    ],
    ['pattern with whitespace', 'namespaces:\n  exclude: ["kube system"]\n', /^:2: namespaces\.exclude\[0\]: pattern contains whitespace$/],
  ];
  for (const [label, text, want] of cases) {
    const got = problems(text);
    t.ok(
      got.some((p) => want.test(p)),
      label,
      { got, want: String(want) },
    );
  }
});

t.test('a bad enum is reported once, not with the noise of each union branch', async (t) => {
  t.same(problems('mode: 5\n'), [':1: mode: must be one of "enforce", "warn", "audit"']);
});

t.test('every problem of a file is listed, each with its line', async (t) => {
  const got = problems('mode: on\nonError: maybe\nnamespaces:\n  exclud: []\n');
  t.equal(got.length, 3, got.join('\n'));
  t.match(got, [/^:1: mode/, /^:2: onError/, /^:4: namespaces\.exclud: unknown key/]);
});

t.test('YAML-level refusals', async (t) => {
  t.match(problems('mode: enforce\nmode: warn\n'), [/^:2: yaml: Map keys must be unique/], 'duplicate keys');
  t.match(problems('checks:\n  immutability: true\n  immutability: false\n'), [/^:3: yaml: Map keys must be unique/], 'nested duplicate keys');
  t.match(problems('mode: enforce\n---\nmode: warn\n'), [/yaml: Source contains multiple documents/], 'two documents');
  t.match(problems('mode: [enforce\n'), [/yaml:/], 'broken flow sequence');
  t.match(problems('- mode: enforce\n'), [/^:1: \(top level\): must be a mapping of keys$/], 'a list');
  t.match(problems('enforce\n'), [/^:1: \(top level\): must be a mapping of keys$/], 'a scalar');
  t.match(problems('"0"\n'), [/must be a mapping of keys/], 'a quoted scalar');
});

t.test('a YAML alias bomb is refused without being expanded', async (t) => {
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
  }
  const started = Date.now();
  const got = problems(`${levels.join('\n')}\n`);
  t.match(got, [/yaml: Excessive alias count/]);
  t.ok(Date.now() - started < 2000, 'refused quickly (10^9 nodes were never built)');
});

t.test('a file over 1 MiB is refused before parsing', async (t) => {
  t.throws(() => parsePolicy(`# ${'x'.repeat(1024 * 1024)}\n`, 'big.yaml'), { code: ErrorCodes.CONFIG_INVALID, message: /larger than 1048576 bytes/ });
});

t.test('a trust store file that does not exist is refused with its key and line', async (t) => {
  const dir = t.testdir({ 'root.pem': CA_PEM });
  const text = `checks:
  signature:
    trustStores:
      - { type: ca, path: ${join(dir, 'root.pem')} }
      - type: signingAuthority
        path: ${join(dir, 'missing.pem')}
    trustedIdentities: ["*"]
`;
  const got = problems(text);
  t.equal(got.length, 1, got.join('\n'));
  t.match(got[0], /^:6: checks\.signature\.trustStores\[1\]\.path: .*missing\.pem/);
});

t.test('overrides get the same semantic checks as the top level', async (t) => {
  const got = problems(
    'overrides:\n  - name: x\n    images: ["nginx"]\n    checks:\n      vulnerabilities:\n        exceptions:\n          - { id: C, images: ["*/a/*"], expires: 2026-13-01, reason: r }\n',
  );
  t.match(got, [
    /^:3: overrides\[0\]\.images\[0\]: image pattern "nginx"/,
    /^:7: overrides\[0\]\.checks\.vulnerabilities\.exceptions\[0\]\.expires: "2026-13-01" is not a calendar date/,
  ]);
});

t.test('loadPolicyFile reads a file, and a missing file is a read error', async (t) => {
  const dir = t.testdir({ 'policy.yaml': 'mode: audit\n', 'bad.yaml': 'mode: audit\nextra: 1\n' });
  const loaded = loadPolicyFile(join(dir, 'policy.yaml'));
  t.equal(loaded.policy.mode, 'audit');
  t.equal(loaded.source, join(dir, 'policy.yaml'));
  t.throws(() => loadPolicyFile(join(dir, 'nope.yaml')), { code: ErrorCodes.CONFIG_READ, message: /cannot read policy file .*nope\.yaml/ });
  t.throws(() => loadPolicyFile(join(dir, 'bad.yaml')), {
    code: ErrorCodes.CONFIG_INVALID,
    message: new RegExp(`${join(dir, 'bad.yaml').replace(/[.]/g, '\\.')}:2: extra: unknown key`),
  });
});
