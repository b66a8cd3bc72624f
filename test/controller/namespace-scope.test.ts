import t from 'tap';
import { parseLabelSelector, selectorMatches } from '../../src/controller/namespace-scope.ts';

// The selector the chart renders for the webhook (and the controller) with the opt-out label on.
const CHART = JSON.stringify({
  matchExpressions: [
    { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['security-system', 'kube-system'] },
    { key: 'ecr-admission.io/ignore', operator: 'NotIn', values: ['true'] },
  ],
});

t.test("the webhook's namespaceSelector, with Kubernetes' label selector semantics", async (t) => {
  const s = parseLabelSelector(CHART);
  const ns = (name: string, labels: Record<string, string> = {}) => ({ 'kubernetes.io/metadata.name': name, ...labels });
  t.equal(selectorMatches(s, ns('team-a')), true);
  t.equal(selectorMatches(s, ns('kube-system')), false, 'an excluded namespace');
  t.equal(selectorMatches(s, ns('team-b', { 'ecr-admission.io/ignore': 'true' })), false, 'opted out');
  t.equal(selectorMatches(s, ns('team-b', { 'ecr-admission.io/ignore': 'false' })), true, 'NotIn: another value is in');
  const optIn = parseLabelSelector(
    JSON.stringify({ matchLabels: { tier: 'prod' }, matchExpressions: [{ key: 'ecr-admission.io/enforce', operator: 'In', values: ['true'] }] }),
  );
  t.equal(selectorMatches(optIn, { tier: 'prod', 'ecr-admission.io/enforce': 'true' }), true);
  t.equal(selectorMatches(optIn, { tier: 'prod' }), false, 'In: an absent label is out');
  t.equal(selectorMatches(optIn, { tier: 'dev', 'ecr-admission.io/enforce': 'true' }), false, 'matchLabels');
  const exists = parseLabelSelector(
    JSON.stringify({
      matchExpressions: [
        { key: 'a', operator: 'Exists' },
        { key: 'b', operator: 'DoesNotExist' },
      ],
    }),
  );
  t.equal(selectorMatches(exists, { a: '' }), true);
  t.equal(selectorMatches(exists, { a: '', b: 'x' }), false);
  t.equal(selectorMatches(parseLabelSelector('{}'), {}), true, 'the empty selector selects everything');
});

t.test('a bad selector is refused with what is wrong', async (t) => {
  t.throws(() => parseLabelSelector('not json'), /not JSON/);
  t.throws(() => parseLabelSelector('[]'), /must be an object/);
  t.throws(() => parseLabelSelector(JSON.stringify({ matchExpressions: [{ key: 'a', operator: 'Near' }] })), /operator In, NotIn, Exists or DoesNotExist/);
  t.throws(() => parseLabelSelector(JSON.stringify({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] })), /In needs values/);
  t.throws(() => parseLabelSelector(JSON.stringify({ matchLabels: { a: 1 } })), /matchLabels.a must be a string/);
  t.throws(() => parseLabelSelector(JSON.stringify({ matchExpressions: Array.from({ length: 65 }, () => ({ key: 'a', operator: 'Exists' })) })), /at most 64/);
});
