// Loads and validates the policy file. A bad file is refused whole, with the key path and the
// line of every problem: a gate must never run half a policy.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isNode, isScalar, isSeq, type Document } from 'yaml';
import { AdmissionError, ErrorCodes, errorMessage } from '../support/errors.ts';
import { PolicySchema, type PolicyFile } from './schema.ts';
import { checkSemantics } from './semantics.ts';
import type { PolicyTrust } from './trust.ts';

export interface LoadedPolicy {
  readonly policy: PolicyFile;
  /** Short hash of the text and of the trust stores' certificates: a policy whose trust store
   *  files changed is a new policy (a reload takes it), though its text is the same. */
  readonly version: string;
  readonly source: string;
  /** checks.signature compiled while it was validated: trust stores read once, at load. */
  readonly trust: PolicyTrust;
}

export interface PolicyProblem {
  /** Key path such as "checks.signature.revocation" or "overrides[1].mode". */
  readonly path: string;
  readonly line?: number;
  readonly message: string;
}

const MAX_POLICY_BYTES = 1024 * 1024;
const EMPTY_POLICY_MESSAGE =
  'the file holds no policy (it is empty, or only whitespace, comments or a YAML null); ' +
  'check the ConfigMap key the file comes from, or write `mode: enforce` for the built-in defaults';
/** Problems listed in one error; the rest are counted. Finding each one's line walks the
 *  document, so listing all of them made a 290 KB file of unknown keys take 20 s (and a 1 MB
 *  one minutes, with the event loop held) and gave a 26 MB message. */
const MAX_LISTED = 50;
const ajv = new Ajv({ allErrors: true, verbose: true, useDefaults: true, strict: false, coerceTypes: false });
const validate = ajv.compile<PolicyFile>(PolicySchema);

function pathSegments(instancePath: string): Array<string | number> {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export function formatPath(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out === '' ? '(top level)' : out;
}

function lineOf(doc: Document, lines: LineCounter, segments: ReadonlyArray<string | number>): number | undefined {
  // Walk down as far as the document goes, so a missing key points at its parent. A mapping
  // key is reported at the key's own line: its value may start on the next line (a block
  // mapping), which is not where the reader has to look.
  for (let n = segments.length; n >= 0; n--) {
    const last = segments[n - 1];
    if (n > 0 && typeof last === 'string') {
      const parent = n === 1 ? doc.contents : doc.getIn(segments.slice(0, n - 1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === last);
        if (pair && isNode(pair.key) && pair.key.range) return lines.linePos(pair.key.range[0]).line;
      }
    }
    const node = n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function hint(err: ErrorObject): string {
  const description = (err.parentSchema as { description?: unknown } | undefined)?.description;
  return typeof description === 'string' ? ` (${description})` : '';
}

function describe(err: ErrorObject): { segments: Array<string | number>; message: string } {
  const segments = pathSegments(err.instancePath);
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties':
      return { segments: [...segments, String(p.additionalProperty)], message: 'unknown key' };
    case 'required':
      return { segments, message: `missing required key "${String(p.missingProperty)}"` };
    case 'type':
      return { segments, message: `must be ${String(p.type)}${hint(err)}` };
    case 'pattern':
      return { segments, message: `${err.message ?? 'does not match'}${hint(err)}` };
    default:
      return { segments, message: err.message ?? err.keyword };
  }
}

function unionMessage(errors: ErrorObject[], e: ErrorObject): string | undefined {
  // An enum is a union of literals: say which values are allowed instead of ajv's noise.
  const allowed = errors
    .filter((o) => o.keyword === 'const' && o.instancePath === e.instancePath)
    .map((o) => JSON.stringify((o.params as { allowedValue: unknown }).allowedValue));
  return allowed.length > 0 ? `must be one of ${allowed.join(', ')}` : undefined;
}

interface Problems {
  readonly listed: PolicyProblem[];
  /** Further problems, counted but not listed. */
  readonly more: number;
}

function schemaProblems(doc: Document, lines: LineCounter, errors: ErrorObject[]): Problems {
  const seen = new Set<string>();
  const out: PolicyProblem[] = [];
  let more = 0;
  // An enum is an anyOf of literals: when it fails, its branches' own errors ("must be
  // string", "must be equal to constant") are noise next to the anyOf message. Indexed by
  // instance path, so that thousands of failed unions are not compared with each error.
  const failedUnions = new Map<string, string[]>();
  const constsAt = new Map<string, ErrorObject[]>();
  const add = <T>(map: Map<string, T[]>, key: string, value: T) => {
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  };
  for (const e of errors) {
    if (e.keyword === 'anyOf') add(failedUnions, e.instancePath, `${e.schemaPath}/`);
    if (e.keyword === 'const') add(constsAt, e.instancePath, e);
  }
  for (const e of errors) {
    if (e.keyword === 'const') continue; // folded into the anyOf message below
    if (failedUnions.get(e.instancePath)?.some((u) => e.schemaPath.startsWith(u))) continue;
    const { segments, message: plain } = describe(e);
    const message = e.keyword === 'anyOf' ? (unionMessage(constsAt.get(e.instancePath) ?? [], e) ?? plain) : plain;
    const path = formatPath(segments);
    const key = `${path}:${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (out.length >= MAX_LISTED) {
      more++;
      continue;
    }
    const line = lineOf(doc, lines, segments);
    out.push({ path, message, ...(line !== undefined && { line }) });
  }
  return { listed: out, more };
}

export function formatProblems(source: string, problems: readonly PolicyProblem[], more = 0): string {
  const listed = problems.slice(0, MAX_LISTED);
  const omitted = more + problems.length - listed.length;
  const lines = listed.map((p) => `  ${source}${p.line !== undefined ? `:${p.line}` : ''}: ${p.path}: ${p.message}`);
  if (omitted > 0) lines.push(`  ... and ${omitted} more problem${omitted === 1 ? '' : 's'}`);
  return `invalid policy file ${source}:\n${lines.join('\n')}`;
}

/** Keys repeated in one mapping, found in one pass. The yaml library's own uniqueKeys check
 *  compares each key with every earlier one: a 1 MB file of distinct keys took 5 minutes. */
function duplicateKeys(doc: Document, lines: LineCounter): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          const id = `${typeof pair.key.value}:${String(pair.key.value)}`;
          if (seen.has(id) && pair.key.range) out.push({ path: 'yaml', line: lines.linePos(pair.key.range[0]).line, message: 'Map keys must be unique' });
          seen.add(id);
        } else stack.push(pair.key);
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item); // not push(...items): a huge list would overflow the call stack
    }
  }
  return out.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/** Parses and validates policy text; throws AdmissionError(E_CONFIG_INVALID) listing every problem. */
export function parsePolicy(text: string, source = '<policy>'): LoadedPolicy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
    throw new AdmissionError(ErrorCodes.CONFIG_INVALID, `invalid policy file ${source}: larger than ${MAX_POLICY_BYTES} bytes`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false, strict: true });
  const yamlErrors = [...doc.errors, ...doc.warnings].map((e) => ({
    path: 'yaml',
    line: lines.linePos(e.pos[0]).line,
    message: e.message.split('\n')[0] ?? e.message,
  }));
  if (doc.errors.length > 0) {
    throw new AdmissionError(ErrorCodes.CONFIG_INVALID, formatProblems(source, yamlErrors));
  }
  const duplicates = duplicateKeys(doc, lines);
  if (duplicates.length > 0) throw new AdmissionError(ErrorCodes.CONFIG_INVALID, formatProblems(source, duplicates));
  let data: unknown;
  try {
    // A low alias budget refuses "billion laughs" documents instead of expanding them.
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    throw new AdmissionError(ErrorCodes.CONFIG_INVALID, formatProblems(source, [{ path: 'yaml', message: errorMessage(err) }]));
  }
  // An empty ConfigMap key (or a file of only comments, whitespace or a YAML null) is a
  // mistake in how the file was made, not a wish for the defaults: taken as a policy it would
  // silently replace the operator's policy with the built-in defaults. Refused like any other
  // bad file, so the server does not start on it and a reload to it keeps the last good
  // policy. An explicit `{}` still means "all defaults".
  if (data === null || data === undefined) {
    throw new AdmissionError(ErrorCodes.CONFIG_INVALID, formatProblems(source, [{ path: '(top level)', message: EMPTY_POLICY_MESSAGE }]));
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new AdmissionError(ErrorCodes.CONFIG_INVALID, formatProblems(source, [{ path: '(top level)', line: 1, message: 'must be a mapping of keys' }]));
  }
  if (!validate(data)) {
    const { listed, more } = schemaProblems(doc, lines, validate.errors ?? []);
    throw new AdmissionError(ErrorCodes.CONFIG_INVALID, formatProblems(source, listed, more));
  }
  const { problems: found, trust } = checkSemantics(data);
  const semantic = found.slice(0, MAX_LISTED).map((p) => {
    const line = lineOf(doc, lines, p.segments);
    return { path: formatPath(p.segments), message: p.message, ...(line !== undefined && { line }) };
  });
  if (semantic.length > 0) throw new AdmissionError(ErrorCodes.CONFIG_INVALID, formatProblems(source, semantic, found.length - semantic.length));
  const hash = createHash('sha256').update(text);
  for (const t of [trust.base, ...trust.overrides]) if (t) hash.update(`\0${t.settingsKey}`);
  return { policy: deepFreeze(data), version: hash.digest('hex').slice(0, 12), source, trust };
}

export function loadPolicyFile(path: string): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AdmissionError(ErrorCodes.CONFIG_READ, `cannot read policy file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return parsePolicy(text, path);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
