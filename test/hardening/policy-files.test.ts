// Policy files an operator (or whoever can edit the ConfigMap) might write: malformed YAML,
// wrong types at every key, alias bombs, huge files. Each is refused at load, quickly, with an
// error that names the file (and the line, where there is one) and stays readable; a reload
// of such a file leaves the last good policy in force, whole.
import fc from 'fast-check';
import t from 'tap';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { parsePolicy } from '../../src/policy/load.ts';
import { createPolicyStore } from '../../src/policy/store.ts';
import { ErrorCodes } from '../../src/support/errors.ts';
import { silentLogger } from '../fixtures/policy.ts';
import { ROOT_PEM_PATH, fullPolicy, runs } from './helpers.ts';

/** A refused file must be refused this fast (a reload runs on the admission event loop)...
 *  Measured in CPU time of this process (process.cpuUsage), not wall time: the bound is about
 *  the work a file can make the loader do (no quadratic blow-up, no alias expansion), and wall
 *  time on a shared 2-core machine under a load of 10-19 doubled it without any change here. */
const MAX_MS = 1000;
const MAX_HUGE_MS = 10_000;

/** CPU milliseconds (user + system) this process spent since `since` (a process.cpuUsage()). */
function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}
/** ...with a message short enough to log and to show in /readyz. */
const MAX_MESSAGE = 16 * 1024;

interface Refusal {
  refused: boolean;
  ms: number;
  message: string;
  code?: string;
  other?: string;
}

function load(text: string): Refusal {
  const started = process.cpuUsage();
  try {
    parsePolicy(text, 'policy.yaml');
    return { refused: false, ms: cpuMsSince(started), message: '' };
  } catch (err) {
    const e = err as { code?: string; message?: string; name?: string };
    const ms = cpuMsSince(started);
    if (e.code !== ErrorCodes.CONFIG_INVALID) return { refused: true, ms, message: String(e.message), other: `${e.name}: ${e.message}` };
    return { refused: true, ms, message: e.message ?? '', code: e.code };
  }
}

/** What is wrong with how a file was refused (empty: refused as it should be). */
function refusalProblems(r: Refusal, line?: RegExp, maxMs = MAX_MS): string[] {
  const problems: string[] = [];
  if (!r.refused) return ['accepted'];
  if (r.other) problems.push(`not an E_CONFIG_INVALID error: ${r.other.slice(0, 200)}`);
  if (!/^invalid policy file policy\.yaml/.test(r.message)) problems.push(`the error does not name the file: ${r.message.slice(0, 200)}`);
  if (line && !line.test(r.message)) problems.push(`the error does not say ${line.source}: ${r.message.slice(0, 300)}`);
  if (r.ms > maxMs) problems.push(`took ${Math.round(r.ms)} ms`);
  if (r.message.length > MAX_MESSAGE) problems.push(`a message of ${r.message.length} characters`);
  return problems;
}

/** Up to `bytes` of whole lines. */
function fill(bytes: number, line: (i: number) => string, head = '', tail = ''): string {
  const out: string[] = [head];
  let size = head.length + tail.length;
  for (let i = 0; ; i++) {
    const l = line(i);
    if (size + l.length + 1 > bytes) break;
    out.push(l);
    size += l.length + 1;
  }
  return `${out.join('\n')}\n${tail}`;
}
const MB = 1024 * 1024 - 64;

t.test('malformed YAML, wrong types, bombs and huge files are refused quickly and clearly', async (t) => {
  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++)
    laughs.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
        .fill(`*${String.fromCharCode(96 + i)}`)
        .join(',')}]`,
    );
  const underBudget = ['x0: &x0 ["registry.k8s.io/*"]'];
  for (let i = 1; i < 7; i++)
    underBudget.push(
      `x${i}: &x${i} [${Array(7)
        .fill(`*x${i - 1}`)
        .join(',')}]`,
    );
  const cases: Array<[string, string, RegExp?]> = [
    ['unclosed quote', 'mode: "enforce\n', /yaml/],
    ['unclosed flow sequence', 'registries:\n  allow: [a, b\n', /yaml/],
    ['tab indentation', 'registries:\n\tallow: []\n', /yaml/],
    ['bad indentation', 'registries:\n  ecr:\n    - accountId: "111122223333"\n   regions: [us-east-1]\n', /:\d+: /],
    ['duplicate key', 'mode: enforce\nmode: audit\n', /policy\.yaml:2: yaml: Map keys must be unique/],
    ['duplicate nested key', 'checks:\n  immutability: true\n  immutability: false\n', /policy\.yaml:3: yaml: Map keys must be unique/],
    ['unknown key', 'mode: enforce\nregistrie: {}\n', /policy\.yaml:2: registrie: unknown key/],
    ['mode a number', 'mode: 1\n', /policy\.yaml:1: mode: must be one of/],
    ['onError a boolean', 'onError: true\n', /onError: must be one of/],
    ['registries a list', 'registries: []\n', /registries: must be object/],
    ['ecr a map', 'registries:\n  ecr: {}\n', /registries\.ecr: must be array/],
    ['account id unquoted (a number)', 'registries:\n  ecr:\n    - accountId: 111122223333\n', /registries\.ecr\[0\]\.accountId: must be string/],
    ['regions a string', 'registries:\n  ecr:\n    - accountId: "111122223333"\n      regions: us-east-1\n', /regions: must be array/],
    ['signature true', 'checks:\n  signature: true\n', /checks\.signature: must be object/],
    ['maxEntries a string', 'cache:\n  maxEntries: "10"\n', /cache\.maxEntries: must be integer/],
    ['negative TTL', 'cache:\n  ttlSeconds:\n    mutableTag: -1\n', /mutableTag/],
    ['overrides a map', 'overrides: {}\n', /overrides: must be array/],
    ['YAML 1.1 yes', 'checks:\n  immutability: yes\n', /immutability: must be boolean/],
    ['scalar document', 'enforce\n', /must be a mapping/],
    ['list document', '- mode: enforce\n', /must be a mapping/],
    ['two documents', 'mode: enforce\n---\nmode: audit\n', /multiple documents/],
    ['merge key', 'base: &b { mode: warn }\n<<: *b\n', /unknown key/],
    ['a JS function tag', 'mode: !!js/function "function(){}"\n', /mode/],
    ['NUL byte', 'mode: enf\u0000orce\n', /mode/],
    ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1')],
    ['billion laughs', laughs.join('\n'), /alias/i],
    ['7^7 expansion within 49 aliases', underBudget.join('\n'), /alias/i],
    ['1 MiB + 1 byte', `mode: enforce\n#${'x'.repeat(1024 * 1024)}\n`, /larger than 1048576 bytes/],
    ['1 MiB of unknown keys', fill(MB, (i) => `k${i}: 1`), /unknown key[\s\S]*and \d+ more problems/],
    ['1 MiB of repeated keys', fill(MB, (i) => `k${i % 1000}: 1`), /Map keys must be unique[\s\S]*and \d+ more problems/],
    ['1 MiB flow map', `checks: {${fill(MB - 20, (i) => `k${i}: 1,`)}}`],
    ['1 MiB list of numbers', `registries:\n  allow: [${'1,'.repeat(MB / 2 - 40)}1]\n`, /registries\.allow\[0\]: must be string[\s\S]*and \d+ more problems/],
    ['1 MiB of bad overrides', fill(MB, (i) => `  - { name: o${i}, mode: bogus }`, 'overrides:'), /overrides\[0\]\.mode: must be one of[\s\S]*more problems/],
    ['1 MiB of bad patterns', `registries:\n  allow: [${'"a b",'.repeat(MB / 6 - 20)}"a b"]\n`, /pattern contains whitespace[\s\S]*more problems/],
    ['empty file (an empty ConfigMap key)', '', /\(top level\): the file holds no policy/],
    ['only whitespace', ' \n\t\n\n', /the file holds no policy/],
    ['only comments', '# policy for prod\n# TODO\n', /the file holds no policy/],
    ['a YAML null document', '--- null\n', /the file holds no policy/],
    ['1 MiB of comments', fill(MB, (i) => `# comment ${i}`), /the file holds no policy/],
    ['1 MiB of deep flow nesting', `a: ${'['.repeat(MB / 2 - 4)}${']'.repeat(MB / 2 - 4)}\n`, /yaml/],
  ];
  for (const [label, text, where] of cases) {
    const r = load(text);
    // A 1 MiB file takes the YAML parser itself a second or two; bounded, not instant.
    t.same(
      refusalProblems(r, where, text.length > 100_000 ? MAX_HUGE_MS : MAX_MS),
      [],
      `${label}: refused in ${Math.round(r.ms)} ms, ${r.message.length} characters`,
    );
  }
  t.comment(`${cases.length} named malformed policy files`);
});

t.test('random text is accepted or refused with E_CONFIG_INVALID, never another error', async (t) => {
  const n = runs(1500);
  const valid = fullPolicy();
  const text = fc.oneof(
    fc.string({ maxLength: 400 }),
    fc.string({ unit: fc.constantFrom(...'{}[]:,-&*!|>\'"#%@` \n\tmodeabc123'.split('')), maxLength: 300 }),
    // A valid policy with one edit: a character replaced, inserted or dropped.
    fc
      .record({
        at: fc.nat({ max: valid.length - 1 }),
        ch: fc.constantFrom(...' \n\t:-[]{}&*"\''.split('')),
        kind: fc.constantFrom('replace', 'insert', 'delete'),
      })
      .map(({ at, ch, kind }) =>
        kind === 'delete' ? valid.slice(0, at) + valid.slice(at + 1) : valid.slice(0, at) + ch + valid.slice(kind === 'replace' ? at + 1 : at),
      ),
  );
  let refused = 0;
  fc.assert(
    fc.property(text, (s) => {
      const r = load(s);
      if (r.other) throw new Error(`${JSON.stringify(s.slice(0, 200))}: ${r.other}`);
      if (r.refused) refused++;
    }),
    { numRuns: n },
  );
  t.ok(refused > 0, `${n} random or edited files: ${refused} refused, all with E_CONFIG_INVALID`);
});

/** A policy with every key set, as data: each path of it gets each wrong-typed value. */
function everyKeyPolicy(): Record<string, unknown> {
  return {
    mode: 'enforce',
    onError: 'deny',
    registries: {
      ecr: [{ accountId: '111122223333', regions: ['us-east-1'], roleArn: 'arn:aws:iam::111122223333:role/r', pullThroughCachePrefixes: ['ecr-public'] }],
      allow: ['registry.k8s.io/*'],
      oci: [{ host: 'registry.example.com', plainHttp: false }],
    },
    namespaces: { exclude: ['kube-system'] },
    checks: {
      immutability: true,
      signature: {
        trustStores: [{ type: 'signingAuthority', path: ROOT_PEM_PATH, name: 'root' }],
        trustedIdentities: ['*'],
        revocation: 'enforce',
        multiArch: 'indexOrChildren',
        source: 'ecr-api',
      },
      vulnerabilities: {
        denySeverities: ['CRITICAL'],
        notScanned: 'deny',
        exceptions: [{ id: 'CVE-1', images: ['*/legacy/*'], expires: '2027-03-01', reason: 'r' }],
        fixAvailableOnly: true,
        minInspectorScore: 7,
      },
    },
    overrides: [{ name: 'o', namespaces: ['batch-*'], images: ['*'], mode: 'warn', onError: 'allow', checks: { immutability: false } }],
    cache: {
      maxEntries: 100,
      ttlSeconds: { mutableTag: 15, immutableTag: 3600, repository: 300, digest: 3600, revocation: 300, findings: 300, notFound: 10 },
      staleSeconds: 300,
    },
    aws: { endpoints: { ecr: 'https://ecr.example' }, maxAttempts: 3 },
  };
}

function pathsOf(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = prefix.length > 0 ? [prefix] : [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

t.test('a wrong type at any key of a full policy is refused, naming that key', async (t) => {
  const base = everyKeyPolicy();
  t.notOk(load(stringify(base)).refused, 'the full policy itself loads (control)');
  const wrong: unknown[] = [null, 0, -1, 1.5, true, 'text', '', [], ['a'], {}, { nested: { deep: [1] } }, 'x'.repeat(10_000)];
  let tried = 0;
  const failures: string[] = [];
  for (const path of pathsOf(base)) {
    let original: unknown = base;
    for (const key of path) original = (original as Record<string | number, unknown>)[key];
    for (const value of wrong) {
      if (kindOf(value) === kindOf(original)) continue;
      const copy = structuredClone(base);
      let node = copy as Record<string | number, unknown>;
      for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
      node[path[path.length - 1]!] = value;
      const r = load(stringify(copy));
      tried++;
      const shown = path
        .map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`))
        .join('')
        .slice(1)
        .replace(/\.\[/g, '[');
      const parent = shown.replace(/(\.[^.[]+|\[\d+\])$/, '');
      if (!r.refused) failures.push(`${shown} = ${JSON.stringify(value)?.slice(0, 40)}: accepted`);
      else if (r.other) failures.push(`${shown}: ${r.other}`);
      else if (!r.message.includes(shown) && !r.message.includes(`${parent}:`) && !r.message.includes(`${parent}.`))
        failures.push(`${shown} = ${JSON.stringify(value)?.slice(0, 40)}: message does not name it: ${r.message.slice(0, 300)}`);
    }
  }
  t.same(failures.slice(0, 20), [], `${tried} wrong-typed values at ${pathsOf(base).length} keys`);
});

t.test('a reload of a bad file keeps the last good policy, whole', async (t) => {
  const dir = t.testdir({ 'policy.yaml': fullPolicy() });
  const file = join(dir, 'policy.yaml');
  const store = createPolicyStore({ path: file, logger: silentLogger });
  const good = store.current();
  const bad: Array<[string, string]> = [
    ['half-written file', fullPolicy().slice(0, 120)],
    ['one bad key among good ones', `${fullPolicy()}\nbogus: 1\n`],
    ['a changed mode plus a wrong type', fullPolicy().replace('mode: enforce', 'mode: audit').replace('immutability: true', 'immutability: 7')],
    ['a changed onError plus a missing trust store', fullPolicy({ onError: 'allow' }).replace(ROOT_PEM_PATH, '/nonexistent/root.pem')],
    ['alias bomb', 'a: &a [1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c]\n'],
    ['1 MiB of unknown keys', fill(MB, (i) => `k${i}: 1`)],
    ['empty text with a BOM and garbage', '\ufeff\u0000\u0001'],
    ['an emptied ConfigMap key', ''],
    ['only comments', '# emptied\n'],
  ];
  for (const [label, text] of bad) {
    writeFileSync(file, text);
    const started = process.cpuUsage();
    t.equal(store.reload(), false, `${label}: not applied`);
    const ms = cpuMsSince(started);
    t.ok(ms < MAX_HUGE_MS, `${label}: refused in ${Math.round(ms)} ms of CPU`);
    t.equal(store.current(), good, `${label}: the same compiled policy stays in force`);
    t.equal(store.current().base.mode, 'enforce');
    t.equal(store.current().base.onError, 'deny');
    t.match(store.status().lastReloadError, /^invalid policy file /, `${label}: the refusal is visible`);
    t.ok((store.status().lastReloadError ?? '').length <= MAX_MESSAGE, `${label}: and readable (${store.status().lastReloadError?.length} characters)`);
  }
  writeFileSync(file, fullPolicy({ onError: 'allow' }));
  t.equal(store.reload(), true, 'a good file is applied');
  t.equal(store.current().base.onError, 'allow');
  t.notOk(store.status().lastReloadError, 'and clears the error');
});
