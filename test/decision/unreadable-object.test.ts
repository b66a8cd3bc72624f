// An object the requester sent that cannot be read: decided by decide() under its mode, never
// by onError; which override's mode applies when its images are unknown.
import t from 'tap';
import { decide } from '../../src/decision/decide.ts';
import { policyForUnknownImages } from '../../src/decision/unreadable-object.ts';
import type { EffectivePolicy } from '../../src/policy/compile.ts';
import type { Mode, OnError } from '../../src/policy/schema.ts';
import { compileText } from '../fixtures/policy.ts';

const policy = (mode: Mode, onError: OnError = 'allow', name = 'default'): EffectivePolicy => ({ name, mode, onError, checks: {} });
const input = (p: EffectivePolicy) => ({
  kind: 'Pod',
  namespace: 'team-a',
  name: 'p',
  images: [],
  unreadable: { reason: 'more than 256 containers', policy: p },
});

t.test('enforce denies, warn warns, audit records; onError has no say', async (t) => {
  for (const onError of ['deny', 'allow'] as const) {
    const denied = decide(input(policy('enforce', onError)));
    t.same(
      [denied.allowed, denied.result, denied.message],
      [false, 'deny', 'ecr-admission denied Pod team-a/p: cannot read the object: more than 256 containers'],
      `enforce, onError ${onError}`,
    );
    const warned = decide(input(policy('warn', onError)));
    t.same(
      [warned.allowed, warned.result, warned.warnings],
      [true, 'warn', ['ecr-admission could not read Pod team-a/p: cannot read the object: more than 256 containers']],
      `warn, onError ${onError}`,
    );
    const audited = decide(input(policy('audit', onError)));
    t.same([audited.allowed, audited.result, audited.warnings, audited.message], [true, 'audit', [], undefined], `audit, onError ${onError}`);
    t.equal(audited.auditAnnotations['audit-violations'], 'cannot read the object: more than 256 containers');
    t.equal(audited.auditAnnotations.decision, 'audit');
  }
  const long = decide({ ...input(policy('warn')), name: 'x'.repeat(300) });
  t.ok(long.warnings[0]!.length <= 119, 'the warning stays under 120 characters');
});

t.test("the mode for unknown images: the namespace's catch-all, else the base, never softer than an override before it", async (t) => {
  const p = compileText(`mode: enforce
onError: deny
overrides:
  - { name: prod-images, namespaces: ["mixed"], images: ["*/prod/*"], mode: enforce }
  - { name: mixed-warn, namespaces: ["mixed"], images: ["*"], mode: warn }
  - { name: batch-audit, namespaces: ["batch-*"], mode: audit, onError: allow }
  - { name: legacy-warn, namespaces: ["legacy"], images: ["*/legacy/*"], mode: warn }
  - { name: later, namespaces: ["batch-*"], images: ["*"], mode: enforce }
`);
  t.same(pick(p, 'team-a'), ['default', 'enforce'], 'no override for the namespace: the base policy');
  t.same(pick(p, 'batch-1'), ['batch-audit', 'audit'], 'an override for every image of the namespace (no images key) decides; the ones after it never apply');
  t.same(pick(p, 'mixed'), ['prod-images', 'enforce'], 'a narrower, stricter override before the catch-all keeps its mode');
  t.same(pick(p, 'legacy'), ['default', 'enforce'], 'only a narrower override: the base still covers the other images, the stricter wins');

  const auditBase = compileText(`mode: audit
onError: allow
overrides:
  - { name: prod, namespaces: ["prod-*"], images: ["*/app/*"], mode: enforce }
`);
  t.same(pick(auditBase, 'prod-1'), ['prod', 'enforce'], 'a base in audit does not soften a namespace override that enforces');
  t.same(pick(auditBase, 'dev'), ['default', 'audit'], 'and stays audit elsewhere');
});

function pick(p: ReturnType<typeof compileText>, namespace: string): [string, string] {
  const e = policyForUnknownImages(p, namespace);
  return [e.name, e.mode];
}
