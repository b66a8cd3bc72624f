// Pure analysis of an ECR repository policy (IAM policy grammar): does it grant anything to a
// wildcard principal that no condition restricts, or a push (write) action to a principal of
// another account than the repository's, or to an AWS service not pinned to the repository's
// account by aws:SourceAccount or aws:SourceArn? Anyone with ecr:SetRepositoryPolicy writes this
// document, so it is bounded before it is parsed, and whatever cannot be read with certainty
// counts against it: the analysis may flag a safe policy, never pass an open one.
//
// Grammar (IAM User Guide, "IAM JSON policy element reference"): Statement is an object or a
// list; Effect Allow | Deny; Principal "*" or a map {AWS, Service, Federated, CanonicalUser} of
// a string or a list (a bare string or list is read as AWS values); NotPrincipal; Action or
// NotAction, a string or list of patterns where `*` and `?` are wildcards, matched
// case-insensitively; Condition {operator: {key: value | [values]}}, keys case-insensitive.
//
// Deny grants nothing, and Deny statements are not subtracted from Allow ones: a policy whose
// Allow is open and whose Deny closes it again is reported (it is one edit from open).
import { JsonScanner } from '../support/json-scan.ts';
import { isObject } from '../support/json.ts';

/** SetRepositoryPolicy's policyText is at most 10,240 characters (Amazon ECR API Reference,
 *  SetRepositoryPolicy, "Length Constraints: Maximum length of 10240"). A longer document did
 *  not come from ECR as documented: refused, not parsed. */
export const MAX_POLICY_CHARS = 10_240;
export const MAX_STATEMENTS = 100;
const MAX_DEPTH = 8;
const MAX_VALUES = 2_000;

/** Actions that change what the repository serves or who may: the push API, deletion, and
 *  the settings that would let a grantee widen its own access or make tags movable. */
export const WRITE_ACTIONS = [
  'ecr:PutImage',
  'ecr:InitiateLayerUpload',
  'ecr:UploadLayerPart',
  'ecr:CompleteLayerUpload',
  'ecr:BatchDeleteImage',
  'ecr:SetRepositoryPolicy',
  'ecr:DeleteRepositoryPolicy',
  'ecr:PutImageTagMutability',
  'ecr:DeleteRepository',
] as const;

export type PolicyProblemKind = 'unreadable' | 'wildcard-principal' | 'cross-account-write';

export interface PolicyProblem {
  readonly kind: PolicyProblemKind;
  /** The statement's Sid, else its position ("statement 2"). */
  readonly statement: string;
  readonly detail: string;
}

export interface PolicyAnalysis {
  readonly problems: readonly PolicyProblem[];
}

/** A principal as far as the analysis needs it. */
type Principal =
  { kind: 'any'; why: string } | { kind: 'account'; account: string; value: string } | { kind: 'service'; value: string } | { kind: 'unknown'; value: string };

class Unreadable extends Error {}

const ACCOUNT_ID = /^[0-9]{12}$/;
/** arn:partition:service:region:account:resource; the account is the fifth field. */
const ARN = /^arn:[a-z0-9-]+:[a-z0-9-]+:[^:]*:([^:]*):.+$/;
const hasWildcard = (s: string) => s.includes('*') || s.includes('?');

function stringList(value: unknown, what: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return value;
  throw new Unreadable(`${what} is not a string or a list of strings`);
}

/** The account an AWS principal value names: a 12-digit id or the account field of an ARN. */
function awsPrincipal(value: string): Principal {
  if (value === '*') return { kind: 'any', why: '"AWS": "*"' };
  // IAM allows no wildcard inside a principal; one that ECR stored anyway is read as "anyone".
  if (hasWildcard(value)) return { kind: 'any', why: `principal ${value} has a wildcard` };
  if (ACCOUNT_ID.test(value)) return { kind: 'account', account: value, value };
  const account = ARN.exec(value)?.[1];
  if (account !== undefined && ACCOUNT_ID.test(account)) return { kind: 'account', account, value };
  // A unique id (AIDA..., AROA...) is what IAM shows for a principal deleted since: no account to compare.
  return { kind: 'unknown', value };
}

function principalsOf(value: unknown): Principal[] {
  if (value === '*') return [{ kind: 'any', why: '"Principal": "*"' }];
  if (typeof value === 'string' || Array.isArray(value)) return stringList(value, 'Principal').map(awsPrincipal);
  if (!isObject(value) || Object.keys(value).length === 0) throw new Unreadable('Principal is not "*", a string, a list or a map');
  const out: Principal[] = [];
  for (const [type, raw] of Object.entries(value)) {
    for (const v of stringList(raw, `Principal.${type}`)) {
      if (v === '*') out.push({ kind: 'any', why: `"${type}": "*"` });
      else if (type === 'AWS') out.push(awsPrincipal(v));
      else if (type === 'Service') out.push(hasWildcard(v) ? { kind: 'any', why: `service ${v} has a wildcard` } : { kind: 'service', value: v });
      else if (type === 'Federated') out.push(awsPrincipal(v));
      // CanonicalUser (S3) and unknown keys: nothing ties them to this account.
      else out.push({ kind: 'unknown', value: `${type}:${v}` });
    }
  }
  return out;
}

/**
 * IAM's action pattern: `*` any run of characters, `?` one, compared case-insensitively. Matched
 * by the greedy two-pointer walk (backtrack to the last `*` only), which is O(pattern x action):
 * a regular expression of one `.*` per `*` backtracks exponentially on `ecr:****...*X`, and the
 * pattern is written by whoever may call SetRepositoryPolicy.
 */
export function actionMatches(pattern: string, action: string): boolean {
  const p = pattern.toLowerCase();
  const a = action.toLowerCase();
  let i = 0;
  let j = 0;
  let star = -1;
  let resume = 0;
  while (j < a.length) {
    if (i < p.length && (p[i] === '?' || p[i] === a[j])) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      resume = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++resume;
    } else {
      return false;
    }
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}

/** The write actions a statement allows: those Action matches, or those NotAction does not. */
function writeActionsOf(statement: Record<string, unknown>): string[] {
  const hasAction = 'Action' in statement;
  const hasNotAction = 'NotAction' in statement;
  if (hasAction === hasNotAction) throw new Unreadable('a statement needs exactly one of Action and NotAction');
  if (hasAction) {
    const patterns = stringList(statement.Action, 'Action');
    return WRITE_ACTIONS.filter((a) => patterns.some((p) => actionMatches(p, a)));
  }
  const excluded = stringList(statement.NotAction, 'NotAction');
  return WRITE_ACTIONS.filter((a) => !excluded.some((p) => actionMatches(p, a)));
}

/**
 * What a statement's conditions do to a wildcard principal. A condition restricts it only when
 * an attacker outside the named organisation, account, principal or network cannot make it
 * true:
 * - positive operators only (StringEquals, StringLike, StringEqualsIgnoreCase, ArnEquals,
 *   ArnLike, and ForAnyValue: over them). Negated operators (StringNotEquals, ArnNotLike ...)
 *   admit everyone but the named;
 * - never ...IfExists, nor ForAllValues: both are true when the key is absent, and
 *   aws:PrincipalOrgID is absent for any principal outside an organisation, aws:SourceVpce
 *   for any request over the internet;
 * - Null only asks whether a key exists, so it names no one;
 * - under a Like operator, a value with a wildcard in the part that names the account or
 *   organisation restricts nothing to compare (o-*, arn:aws:iam::*:role/x): not counted.
 * Several keys and operators in one Condition are ANDed, so one restricting key suffices.
 * `accounts` is set when the restriction also pins the principals' account (aws:PrincipalAccount,
 * aws:PrincipalArn): then a write granted this way is cross-account only if one of them is another.
 */
interface Restriction {
  readonly by?: string;
  readonly accounts?: readonly string[];
}

const POSITIVE = new Set(['StringEquals', 'StringLike', 'StringEqualsIgnoreCase', 'ArnEquals', 'ArnLike']);
const RESTRICTING_KEYS = new Set(['aws:principalorgid', 'aws:principalaccount', 'aws:sourcevpce', 'aws:sourcevpc', 'aws:principalarn']);

function restrictionOf(condition: unknown): Restriction {
  if (condition === undefined) return {};
  if (!isObject(condition)) throw new Unreadable('Condition is not a map');
  let found: Restriction = {};
  for (const [operator, block] of Object.entries(condition)) {
    if (!isObject(block)) throw new Unreadable(`Condition.${operator} is not a map`);
    const base = operator.startsWith('ForAnyValue:') ? operator.slice('ForAnyValue:'.length) : operator;
    if (!POSITIVE.has(base)) continue;
    const like = base.endsWith('Like');
    for (const [rawKey, raw] of Object.entries(block)) {
      const key = rawKey.toLowerCase();
      if (!RESTRICTING_KEYS.has(key)) continue;
      const values = stringList(raw, `Condition.${operator}.${rawKey}`);
      // A policy variable (${aws:PrincipalOrgID}, ${aws:SourceVpc}, ...) is replaced by the
      // request's own value before the comparison, so "equals ${aws:PrincipalOrgID}" is true
      // for every caller: it restricts nothing (found by this round's attacker review).
      if (values.some((v) => v.includes('${'))) continue;
      if (key === 'aws:principalarn') {
        const accounts = values.map((v) => ARN.exec(v)?.[1]);
        if (accounts.some((a) => a === undefined || !ACCOUNT_ID.test(a))) continue;
        return { by: `${rawKey} ${values.join(', ')}`, accounts: accounts as string[] };
      }
      if (like && values.some(hasWildcard)) continue;
      if (key === 'aws:principalaccount') {
        if (!values.every((v) => ACCOUNT_ID.test(v))) continue;
        return { by: `${rawKey} ${values.join(', ')}`, accounts: values };
      }
      found = { by: `${rawKey} ${values.join(', ')}` };
    }
  }
  return found;
}

/**
 * The accounts a statement's conditions pin a service's calls to: aws:SourceAccount, or the
 * account field of aws:SourceArn, under the positive operators restrictionOf accepts (no
 * ...IfExists, no policy variable, no wildcard in the account). A service principal
 * ("codebuild.amazonaws.com") acts for every AWS customer who uses that service: without such a
 * pin, another account's build project could push here through it (the confused deputy, IAM
 * User Guide, "The confused deputy problem"). Undefined when nothing pins them.
 */
function sourceAccountsOf(condition: unknown): string[] | undefined {
  if (!isObject(condition)) return undefined;
  // Every pinning entry counts: a key written twice in two cases ("aws:SourceAccount" and
  // "AWS:SOURCEACCOUNT", one name to IAM) pins nothing unless both name this account.
  let pinned: string[] | undefined;
  for (const [operator, block] of Object.entries(condition)) {
    const base = operator.startsWith('ForAnyValue:') ? operator.slice('ForAnyValue:'.length) : operator;
    if (!POSITIVE.has(base) || !isObject(block)) continue;
    for (const [rawKey, raw] of Object.entries(block)) {
      const key = rawKey.toLowerCase();
      if (key !== 'aws:sourceaccount' && key !== 'aws:sourcearn') continue;
      const values = stringList(raw, `Condition.${operator}.${rawKey}`);
      // ArnLike matches an ARN field by field; StringLike's `*` also matches colons, so under it
      // a wildcard before the account field can move that field ("arn:aws:logs:*:OWN:*" matches
      // "arn:aws:logs:r:OTHER:log-group:OWN:x").
      const shifts = base === 'StringLike' && key === 'aws:sourcearn' && values.some((v) => hasWildcard(v.split(':').slice(0, 5).join(':')));
      const accounts = key === 'aws:sourceaccount' ? values : values.map((v) => ARN.exec(v)?.[1] ?? '');
      if (shifts || values.some((v) => v.includes('${')) || !accounts.every((a) => ACCOUNT_ID.test(a))) continue;
      pinned = [...(pinned ?? []), ...accounts];
    }
  }
  return pinned;
}

function statementsOf(document: unknown): Record<string, unknown>[] {
  if (!isObject(document)) throw new Unreadable('the document is not a JSON object');
  const raw = document.Statement;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (list.length === 0) throw new Unreadable('the document has no Statement');
  if (list.length > MAX_STATEMENTS) throw new Unreadable(`the document has ${list.length} statements (at most ${MAX_STATEMENTS} are read)`);
  return list.map((s, i) => {
    if (!isObject(s)) throw new Unreadable(`statement ${i + 1} is not an object`);
    return s;
  });
}

function analyzeStatement(statement: Record<string, unknown>, name: string, repositoryAccount: string, out: PolicyProblem[]): void {
  const effect = statement.Effect;
  if (effect === 'Deny') return;
  if (effect !== 'Allow') throw new Unreadable(`${name}: Effect is not Allow or Deny`);
  const hasPrincipal = 'Principal' in statement;
  const hasNot = 'NotPrincipal' in statement;
  if (hasPrincipal === hasNot) throw new Unreadable(`${name}: needs exactly one of Principal and NotPrincipal`);
  // Allow with NotPrincipal grants everyone the list does not name: a wildcard principal.
  const principals = hasNot ? [{ kind: 'any', why: 'Allow with NotPrincipal (everyone not listed)' } as const] : principalsOf(statement.Principal);
  const writes = writeActionsOf(statement);
  const restriction = restrictionOf(statement.Condition);
  const writeText = writes.length > 0 ? `${writes.slice(0, 3).join(', ')}${writes.length > 3 ? `, +${writes.length - 3} more` : ''}` : '';
  for (const p of principals) {
    if (p.kind === 'any') {
      if (restriction.by === undefined) {
        out.push({
          kind: 'wildcard-principal',
          statement: name,
          detail: `${p.why} with no condition restricting it (aws:PrincipalOrgID, aws:PrincipalAccount, aws:SourceVpce, aws:SourceVpc, aws:PrincipalArn)`,
        });
      } else if (writes.length > 0 && (restriction.accounts === undefined || restriction.accounts.some((a) => a !== repositoryAccount))) {
        out.push({
          kind: 'cross-account-write',
          statement: name,
          detail: `${writeText} allowed to ${p.why} restricted only by ${restriction.by}, which admits other accounts than ${repositoryAccount}`,
        });
      }
    } else if (writes.length > 0 && p.kind === 'account' && p.account !== repositoryAccount) {
      out.push({ kind: 'cross-account-write', statement: name, detail: `${writeText} allowed to ${p.value} of account ${p.account}` });
    } else if (writes.length > 0 && p.kind === 'service') {
      const sources = sourceAccountsOf(statement.Condition);
      if (sources === undefined || sources.some((a) => a !== repositoryAccount)) {
        out.push({
          kind: 'cross-account-write',
          statement: name,
          detail: `${writeText} allowed to service ${p.value} ${sources === undefined ? 'with no aws:SourceAccount or aws:SourceArn condition' : `for source account ${sources.join(', ')}`}: another account's use of the service could push here (the confused deputy)`,
        });
      }
    } else if (writes.length > 0 && p.kind === 'unknown') {
      out.push({
        kind: 'cross-account-write',
        statement: name,
        detail: `${writeText} allowed to ${p.value}, which names no account (a deleted principal's id?)`,
      });
    }
  }
}

/** Analyses `text`, GetRepositoryPolicy's policyText, for a repository of `repositoryAccount`. */
export function analyzeRepositoryPolicy(text: string, repositoryAccount: string): PolicyAnalysis {
  const unreadable = (detail: string): PolicyAnalysis => ({ problems: [{ kind: 'unreadable', statement: 'document', detail }] });
  if (text.length > MAX_POLICY_CHARS) return unreadable(`the policy has ${text.length} characters (ECR allows at most ${MAX_POLICY_CHARS})`);
  const scan = new JsonScanner({ maxDepth: MAX_DEPTH, maxValues: MAX_VALUES });
  scan.feed(new TextEncoder().encode(text));
  if (scan.stopped === 'depth') return unreadable(`the policy is nested deeper than ${MAX_DEPTH}`);
  if (scan.stopped === 'values') return unreadable(`the policy has more than ${MAX_VALUES} values`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return unreadable('the policy is not valid JSON');
  }
  const problems: PolicyProblem[] = [];
  try {
    statementsOf(document).forEach((s, i) => {
      const name = typeof s.Sid === 'string' && s.Sid !== '' ? s.Sid.slice(0, 64) : `statement ${i + 1}`;
      analyzeStatement(s, name, repositoryAccount, problems);
    });
  } catch (err) {
    if (err instanceof Unreadable) return unreadable(err.message.slice(0, 200));
    throw err;
  }
  return { problems };
}
