// Checks the schema cannot express: patterns that compile, real calendar dates, identities in
// a known syntax, trust store files that exist. Each problem names its key path. The trust
// settings are compiled here, once (trust.ts): validating them means reading the stores, and
// compile.ts takes the result instead of reading them again.
import { validateImagePattern, validatePattern } from './glob.ts';
import type { ChecksConfig, PolicyFile } from './schema.ts';
import { compileTrust, type CompiledTrust, type PolicyTrust } from './trust.ts';

export interface SemanticProblem {
  readonly segments: Array<string | number>;
  readonly message: string;
}

function patterns(list: readonly string[] | undefined, at: Array<string | number>, out: SemanticProblem[], validate = validatePattern): void {
  list?.forEach((p, i) => {
    const why = validate(p);
    if (why) out.push({ segments: [...at, i], message: why });
  });
}

function isCalendarDate(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** Validates one checks block; returns its signature settings compiled, if it has them. */
function checksProblems(checks: ChecksConfig | undefined, at: Array<string | number>, out: SemanticProblem[]): CompiledTrust | undefined {
  let trust: CompiledTrust | undefined;
  if (checks?.signature) {
    // The stores are read now, so a missing or malformed PEM refuses the policy (or the
    // reload) instead of failing every admission later.
    const compiled = compileTrust(checks.signature);
    for (const p of compiled.problems) out.push({ segments: [...at, 'signature', ...p.at], message: p.message });
    trust = compiled.trust;
  }
  checks?.vulnerabilities?.exceptions?.forEach((e, i) => {
    if (!isCalendarDate(e.expires))
      out.push({ segments: [...at, 'vulnerabilities', 'exceptions', i, 'expires'], message: `"${e.expires}" is not a calendar date` });
    patterns(e.images, [...at, 'vulnerabilities', 'exceptions', i, 'images'], out, validateImagePattern);
  });
  return trust;
}

/** Names the code gives itself (compile.ts: the base policy is "default"); an override named
 *  like one would be indistinguishable from it, compared case-insensitively. */
const RESERVED_OVERRIDE_NAMES: ReadonlySet<string> = new Set(['default']);

/** The problems of a schema-valid policy; when there are none, `trust` holds its signature
 *  settings compiled (trust stores loaded once, here). */
export function checkSemantics(policy: PolicyFile): { problems: SemanticProblem[]; trust: PolicyTrust } {
  const out: SemanticProblem[] = [];
  patterns(policy.registries.allow, ['registries', 'allow'], out, validateImagePattern);
  patterns(policy.namespaces.exclude, ['namespaces', 'exclude'], out);
  const seen = new Set<string>();
  policy.registries.ecr.forEach((r, i) => {
    if (seen.has(r.accountId)) out.push({ segments: ['registries', 'ecr', i, 'accountId'], message: `account ${r.accountId} is listed twice` });
    seen.add(r.accountId);
  });
  const baseTrust = checksProblems(policy.checks, ['checks'], out);
  const overrideTrust: Array<CompiledTrust | undefined> = [];
  const names = new Set<string>();
  policy.overrides.forEach((o, i) => {
    if (RESERVED_OVERRIDE_NAMES.has(o.name.toLowerCase())) {
      out.push({
        segments: ['overrides', i, 'name'],
        message: `override name "${o.name}" is reserved: it names the base policy in logs, audit annotations and \`check\` output; choose another name`,
      });
    }
    if (names.has(o.name)) out.push({ segments: ['overrides', i, 'name'], message: `override name "${o.name}" is used twice` });
    names.add(o.name);
    if (!o.namespaces && !o.images) out.push({ segments: ['overrides', i], message: 'an override needs "namespaces" or "images" (or both)' });
    if (o.mode === undefined && o.onError === undefined && o.checks === undefined) {
      out.push({ segments: ['overrides', i], message: 'an override must set at least one of mode, onError, checks' });
    }
    patterns(o.namespaces, ['overrides', i, 'namespaces'], out);
    patterns(o.images, ['overrides', i, 'images'], out, validateImagePattern);
    overrideTrust.push(checksProblems(o.checks, ['overrides', i, 'checks'], out));
  });
  return { problems: out, trust: Object.freeze({ ...(baseTrust && { base: baseTrust }), overrides: Object.freeze(overrideTrust) }) };
}
