// Pure: folds every image's check results with its policy's mode and onError into one
// decision. This is the only place where `error` becomes allow or deny, and where `mode`
// applies: enforce denies, warn allows with warnings, audit allows and records. An object
// that cannot be read is decided here too: a `fail` under its policy's mode, never onError
// (onError is for faults of AWS and registries, not for input the requester controls).
import type { CheckResult } from '../checks/types.ts';
import { shortDigest } from '../image/digest.ts';
import { siteField, siteLabel, siteNoun } from './image-site.ts';
import type { Decision, DecisionInput, ImageVerdictInput, NamespaceLabelChange, UnreadableObject } from './types.ts';

export const WARNING_MAX = 119;

interface Problem {
  readonly image: ImageVerdictInput;
  readonly result: CheckResult;
}

function describeContainer(image: ImageVerdictInput): string {
  const { containerKind, containerName, image: ref } = image.container;
  const digest = image.digest ? ` (${shortDigest(image.digest)})` : '';
  // Names and images come from the object: bounded so a hostile one cannot swell the message.
  return `${siteNoun(containerKind)} "${clip(containerName, 253)}" ${clip(ref, 512)}${digest}`;
}

/** The sentence a denial gives for one problem: `[check] reason. hint` (the controller reports it too). */
export function problemText(result: CheckResult): string {
  const reason = result.status === 'error' ? `could not be verified: ${result.reason ?? 'unknown error'}` : (result.reason ?? 'failed');
  return `[${result.check}] ${reason}${result.hint ? `. ${result.hint}` : ''}`;
}

export function clip(text: string, max = WARNING_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

function warningText(p: Problem): string {
  const c = p.image.container;
  const reason = p.result.status === 'error' ? `not verified (${p.result.reason ?? 'error'})` : (p.result.reason ?? 'failed');
  return clip(`ecr-admission: ${siteLabel(c)}: [${p.result.check}] ${reason}`);
}

/** Problems of one image that its policy's onError counts as a failure. */
function problemsOf(image: ImageVerdictInput): { blocking: Problem[]; tolerated: Problem[] } {
  const blocking: Problem[] = [];
  const tolerated: Problem[] = [];
  for (const result of image.results) {
    if (result.status === 'fail') blocking.push({ image, result });
    else if (result.status === 'error') (image.policy.onError === 'deny' ? blocking : tolerated).push({ image, result });
  }
  return { blocking, tolerated };
}

function subject(input: DecisionInput): string {
  const name = input.name && input.name !== '' ? input.name : '(unnamed)';
  return `${input.kind} ${input.namespace ? `${input.namespace}/` : ''}${name}`;
}

function annotationSummary(input: DecisionInput): string {
  const summary = input.images.map((i) => ({
    ...siteField(i.container),
    image: i.container.image,
    ...(i.digest && { digest: i.digest }),
    policy: i.policy.name,
    mode: i.policy.mode,
    results: Object.fromEntries(i.results.map((r) => [r.check, r.status])),
  }));
  const json = JSON.stringify(summary);
  // Audit annotation values are stored with every audit event: keep them bounded.
  return json.length <= 4096 ? json : `${json.slice(0, 4080)}...(truncated)`;
}

function decideUnreadable(input: DecisionInput, unreadable: UnreadableObject): Decision {
  const problem = `cannot read the object: ${clip(unreadable.reason, 512)}`;
  const auditAnnotations: Record<string, string> = { images: '[]', policy: unreadable.policy.name, reason: problem };
  switch (unreadable.policy.mode) {
    case 'enforce':
      auditAnnotations.decision = 'deny';
      return { allowed: false, message: `ecr-admission denied ${subject(input)}: ${problem}`, warnings: [], auditAnnotations, result: 'deny' };
    case 'warn':
      auditAnnotations.decision = 'warn';
      return { allowed: true, warnings: [clip(`ecr-admission could not read ${subject(input)}: ${problem}`)], auditAnnotations, result: 'warn' };
    case 'audit':
      auditAnnotations.decision = 'audit';
      auditAnnotations['audit-violations'] = problem;
      return { allowed: true, warnings: [], auditAnnotations, result: 'audit' };
  }
}

/**
 * The namespace-label guard: a label change that switches the image checks off for a namespace
 * is the admin's choice, made by the chart's namespaceLabelEditors only. Not subject to the
 * policy's mode or onError: it protects the webhook's scope, which the policy does not set.
 */
function decideNamespaceLabel(input: DecisionInput, change: NamespaceLabelChange): Decision {
  const auditAnnotations: Record<string, string> = { images: '[]', 'namespace-label': clip(change.change, 512) };
  if (change.permitted) {
    auditAnnotations.decision = 'allow';
    return { allowed: true, warnings: [], auditAnnotations, result: 'allow' };
  }
  auditAnnotations.decision = 'deny';
  const message =
    `ecr-admission denied ${subject(input)}: ${clip(change.change, 512)} would switch the image checks off for it; ` +
    `${clip(change.requester, 253)} may not (allowed: ${clip(change.editors, 512)}). Ask a platform admin.`;
  return { allowed: false, message, warnings: [], auditAnnotations, result: 'deny' };
}

export function decide(input: DecisionInput): Decision {
  if (input.namespaceLabel) return decideNamespaceLabel(input, input.namespaceLabel);
  if (input.unreadable) return decideUnreadable(input, input.unreadable);
  const denying: Problem[] = [];
  const warnings: string[] = [];
  const audited: Problem[] = [];
  let failedImages = 0;

  for (const image of input.images) {
    const { blocking, tolerated } = problemsOf(image);
    // Audit mode is silent towards the client: everything goes to the audit annotations.
    if (image.policy.mode === 'audit') {
      audited.push(...tolerated, ...blocking);
      continue;
    }
    for (const p of tolerated) warnings.push(warningText(p));
    for (const r of image.results) for (const w of r.warnings ?? []) warnings.push(clip(`ecr-admission: ${siteLabel(image.container)}: ${w}`));
    if (blocking.length === 0) continue;
    if (image.policy.mode === 'enforce') {
      failedImages++;
      denying.push(...blocking);
    } else {
      for (const p of blocking) warnings.push(warningText(p));
    }
  }

  const auditAnnotations: Record<string, string> = { images: annotationSummary(input) };
  if (audited.length > 0)
    auditAnnotations['audit-violations'] = clip(audited.map((p) => `${siteLabel(p.image.container)}: ${problemText(p.result)}`).join('; '), 4096);
  const uniqueWarnings = [...new Set(warnings)];

  if (denying.length > 0) {
    const header = `ecr-admission denied ${subject(input)}: ${failedImages} of ${input.images.length} image${input.images.length === 1 ? '' : 's'} failed`;
    const lines = denying.map((p) => `- ${describeContainer(p.image)}: ${problemText(p.result)}`);
    auditAnnotations.decision = 'deny';
    return { allowed: false, message: [header, ...lines].join('\n'), warnings: uniqueWarnings, auditAnnotations, result: 'deny' };
  }
  const result = audited.length > 0 ? 'audit' : uniqueWarnings.length > 0 ? 'warn' : 'allow';
  auditAnnotations.decision = result;
  return { allowed: true, warnings: uniqueWarnings, auditAnnotations, result };
}
