// Which namespaces the controller reports on: those the webhook checks. The chart renders the
// webhook configuration's namespaceSelector (excluded namespaces, the opt-in and opt-out
// labels, extra expressions: _namespaces.tpl) into the controller's env as JSON, and the
// controller matches it against each Namespace's labels, as the API server does for the
// webhook; the policy's own namespaces.exclude applies on top (CompiledPolicy.isNamespaceExcluded).
import { isObject } from '../support/json.ts';

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly LabelSelectorRequirement[];
}

const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);
const MAX_EXPRESSIONS = 64;
const MAX_VALUES = 1024;

/** Parses a metav1.LabelSelector (JSON), or throws saying what is wrong. */
export function parseLabelSelector(text: string): LabelSelector {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('the namespace selector is not JSON');
  }
  if (!isObject(raw)) throw new Error('the namespace selector must be an object');
  const matchLabels: Record<string, string> = {};
  if (raw.matchLabels !== undefined) {
    if (!isObject(raw.matchLabels)) throw new Error('matchLabels must be an object');
    for (const [k, v] of Object.entries(raw.matchLabels)) {
      if (typeof v !== 'string') throw new Error(`matchLabels.${k} must be a string`);
      matchLabels[k] = v;
    }
  }
  const expressions = raw.matchExpressions ?? [];
  if (!Array.isArray(expressions) || expressions.length > MAX_EXPRESSIONS) throw new Error(`matchExpressions must be a list of at most ${MAX_EXPRESSIONS}`);
  const matchExpressions = expressions.map((e: unknown, i): LabelSelectorRequirement => {
    if (!isObject(e) || typeof e.key !== 'string' || typeof e.operator !== 'string' || !OPERATORS.has(e.operator))
      throw new Error(`matchExpressions[${i}] needs a key and an operator In, NotIn, Exists or DoesNotExist`);
    const values = e.values ?? [];
    if (!Array.isArray(values) || values.length > MAX_VALUES || !values.every((v) => typeof v === 'string'))
      throw new Error(`matchExpressions[${i}].values must be a list of strings`);
    if ((e.operator === 'In' || e.operator === 'NotIn') && values.length === 0) throw new Error(`matchExpressions[${i}]: ${e.operator} needs values`);
    return { key: e.key, operator: e.operator as LabelSelectorRequirement['operator'], values };
  });
  return { matchLabels, matchExpressions };
}

/** Label selector semantics of Kubernetes (apimachinery labels.Selector). */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels)) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions) {
    const has = Object.hasOwn(labels, e.key);
    switch (e.operator) {
      case 'In':
        if (!has || !e.values.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && e.values.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
