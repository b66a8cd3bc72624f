import t from 'tap';
import { parsePolicy } from '../../src/policy/load.ts';
import { compileText } from '../fixtures/policy.ts';
import { ErrorCodes } from '../../src/support/errors.ts';

function refusal(text: string): string {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code !== ErrorCodes.CONFIG_INVALID) throw err;
    return e.message;
  }
  throw new Error('policy was accepted');
}

t.test('pinning defaults: Pods pinned, tags not required', async (t) => {
  t.same(compileText('mode: enforce\n').pinning, { mode: 'pods', requireOnPods: false });
  t.same(compileText('pinning: {}\n').pinning, { mode: 'pods', requireOnPods: false });
});

t.test('every pinning mode and requireOnPods load', async (t) => {
  for (const mode of ['pods', 'pods-and-templates', 'off']) {
    t.same(compileText(`pinning:\n  mode: ${mode}\n  requireOnPods: true\n`).pinning, { mode, requireOnPods: true });
  }
});

t.test('bad pinning keys are refused with the key path and line', async (t) => {
  t.match(refusal('mode: enforce\npinning:\n  mode: templates\n'), /p\.yaml:3: pinning\.mode: must be one of "pods", "pods-and-templates", "off"/);
  t.match(refusal('pinning:\n  requireOnPods: "yes"\n'), /p\.yaml:2: pinning\.requireOnPods: must be boolean/);
  t.match(refusal('pinning:\n  mode: pods\n  requireOnPod: true\n'), /p\.yaml:3: pinning\.requireOnPod: unknown key/);
  t.match(refusal('pinning: pods\n'), /p\.yaml:1: pinning: must be object/);
});
