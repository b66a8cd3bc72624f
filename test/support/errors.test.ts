// The one error registry: every code value is unique, and no file of src/ raises or compares an
// error code as a string literal. The second is a check of the source text (not of types), so a
// literal cannot slip past it by widening a type to string; it is shown failing on literals
// planted in a temporary copy of src/.
import t from 'tap';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ErrorCodes } from '../../src/support/errors.ts';

const SRC = join(import.meta.dirname, '..', '..', 'src');
const REGISTRY_FILE = 'support/errors.ts';
const VALUES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/** Literals that spell a registry value but belong to another vocabulary (AWS's), each with why. */
const OTHER_VOCABULARIES: ReadonlyArray<{ file: string; value: string; why: string }> = [
  { file: 'checks/vulnerability-messages.ts', value: 'IMAGE_ARCHIVED', why: "ECR's scan status (ImageScanStatus), a scan state, not a FactError code" },
  { file: 'dev/sandbox/fixture.ts', value: 'IMAGE_ARCHIVED', why: "the sandbox's ECR/Inspector scan status of a fixture image" },
  { file: 'dev/sandbox/fixture.ts', value: 'ACCESS_DENIED', why: "Inspector's coverage scanStatus reason ACCESS_DENIED" },
  { file: 'dev/sandbox/inspector.ts', value: 'IMAGE_ARCHIVED', why: "Inspector's coverage scanStatus reason IMAGE_ARCHIVED" },
];

/** What `typeof x.code === '...'` compares with: a type name, not a code. */
const TYPEOF_RESULTS = new Set(['string', 'number', 'bigint', 'boolean', 'symbol', 'undefined', 'object', 'function']);

interface Finding {
  file: string;
  line: number;
  text: string;
  rule: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Every place under `root` that raises or compares an error code as a string literal. */
function literalCodes(root: string): Finding[] {
  const findings: Finding[] = [];
  for (const path of tsFiles(root)) {
    const file = relative(root, path).split('\\').join('/');
    if (file === REGISTRY_FILE) continue;
    const allowed = new Set(OTHER_VOCABULARIES.filter((a) => a.file === file).map((a) => a.value));
    readFileSync(path, 'utf8')
      .split('\n')
      .forEach((text, i) => {
        if (/^\s*(\/\/|\/\*|\*)/.test(text)) return;
        const report = (rule: string) => findings.push({ file, line: i + 1, text: text.trim(), rule });
        // A `code` property or variable compared with a literal, on either side.
        for (const m of text.matchAll(/\bcode\s*[!=]==?\s*(['"`])([^'"`]*)\1|(['"`])([^'"`]*)\3\s*[!=]==?\s*[\w$.?]*\bcode\b/g)) {
          if (!TYPEOF_RESULTS.has(m[2] ?? m[4] ?? '')) report('code compared with a literal');
        }
        for (const m of text.matchAll(/(['"`])([A-Z][A-Z0-9_]*)\1/g)) {
          const value = m[2]!;
          if (VALUES.has(value) && !allowed.has(value)) report(`literal ${value} spells a registry code`);
          else if (/^E_[A-Z0-9_]+$/.test(value) && !VALUES.has(value)) report(`literal ${value} is an error code missing from the registry`);
        }
      });
  }
  return findings;
}

t.test('every code value in the registry is unique', async (t) => {
  const byValue = new Map<string, string[]>();
  for (const [key, value] of Object.entries(ErrorCodes)) byValue.set(value, [...(byValue.get(value) ?? []), key]);
  const shared = [...byValue].filter(([, keys]) => keys.length > 1);
  t.same(shared, [], 'no two members share a value');
  t.ok(Object.keys(ErrorCodes).length >= 40, `the registry holds every vocabulary (${Object.keys(ErrorCodes).length} codes)`);
  t.same(
    Object.values(ErrorCodes).filter((v) => !/^[A-Z][A-Z0-9_]*$/.test(v)),
    [],
    'every value is an upper-case identifier',
  );
});

t.test('the allow-list of other vocabularies names only literals that exist', async (t) => {
  for (const a of OTHER_VOCABULARIES) {
    t.ok(readFileSync(join(SRC, a.file), 'utf8').includes(`'${a.value}'`), `${a.file} still spells ${a.value} (${a.why})`);
    t.ok(VALUES.has(a.value), `${a.value} is a registry value (else it needs no allowance)`);
  }
});

t.test('no file of src/ raises or compares an error code as a string literal', async (t) => {
  const findings = literalCodes(SRC);
  t.same(
    findings.map((f) => `${f.file}:${f.line}: ${f.rule}: ${f.text}`),
    [],
    'use ErrorCodes.<NAME> instead',
  );
  t.ok(tsFiles(SRC).length > 100, 'the scan read the whole of src/');
});

t.test('the scan finds literals planted in a copy of src/', async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'error-codes-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(SRC, copy, { recursive: true });
  const planted: Array<[string, string, string]> = [
    ['checks/digest.ts', "if ((err as FactError).code === 'IMAGE_NOT_FOUND') {}", 'code compared with a literal'],
    ['checks/digest.ts', "const same = 'THROTTLED' !== err.code;", 'code compared with a literal'],
    // A code of another vocabulary compared as a literal: name it as a constant of its own.
    ['facts/oci/errors.ts', "export const unknown = (code: string) => code === 'NAME_UNKNOWN';", 'code compared with a literal'],
    ['facts/errors.ts', "export const planted = () => new FactError('AWS_ERROR', 's', 'op', 'm');", 'literal AWS_ERROR spells a registry code'],
    ['server/app.ts', 'export const body = { code: "E_BODY_TOO_COSTLY" };', 'literal E_BODY_TOO_COSTLY spells a registry code'],
    [
      'checks/ecr-messages.ts',
      "export const other = (c: string) => { switch (c) { case 'E_DEADLINE': return 1; default: return 0; } };",
      'literal E_DEADLINE spells a registry code',
    ],
    ['support/fact-cache.ts', "export const fresh = { code: 'E_NOT_IN_REGISTRY' };", 'literal E_NOT_IN_REGISTRY is an error code missing from the registry'],
    ['notation/verify.ts', 'export const parse = () => failure(`PARSE`, "bad");', 'literal PARSE spells a registry code'],
    // An allowance is per file: the scan status spelled in another file is flagged.
    ['checks/signature.ts', "export const state = 'IMAGE_ARCHIVED';", 'literal IMAGE_ARCHIVED spells a registry code'],
  ];
  for (const [file, line] of planted) writeFileSync(join(copy, file), `${readFileSync(join(copy, file), 'utf8')}\n${line}\n`);
  const findings = literalCodes(copy);
  for (const [file, line, rule] of planted) {
    t.ok(
      findings.some((f) => f.file === file && f.text === line && f.rule === rule),
      `${file}: "${line}" is flagged (${rule})`,
    );
  }
  const elsewhere = findings.filter((f) => !planted.some(([file, line]) => f.file === file && f.text === line));
  t.same(elsewhere, [], 'and nothing else is');
});

t.test('codes keep the values logs, metrics and HTTP answers carry', async (t) => {
  // A contract with operators' dashboards and with the tests of every layer: a rename of a
  // member is free, a change of its value is not.
  t.equal(ErrorCodes.DEADLINE, 'E_DEADLINE');
  t.equal(ErrorCodes.BODY_TOO_COSTLY, 'E_BODY_TOO_COSTLY');
  t.equal(ErrorCodes.BODY_BUDGET_BUSY, 'E_BODY_BUDGET_BUSY');
  t.equal(ErrorCodes.REVIEW_INVALID, 'E_REVIEW_INVALID');
  t.equal(ErrorCodes.REQUEST, 'E_REQUEST');
  t.equal(ErrorCodes.THROTTLED, 'THROTTLED');
  t.equal(ErrorCodes.UNREADABLE, 'UNREADABLE');
  t.equal(ErrorCodes.REVOCATION_UNSUPPORTED, 'REVOCATION_UNSUPPORTED');
});
