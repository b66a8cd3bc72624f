// One cell of the AWS fault matrix: a fresh sandbox and runtime, a fault on one operation, an
// admission, then the fault cleared and the same admission again. What must hold in every
// cell: a decision within the deadline that follows onError, a message naming the failing
// service and operation, and nothing remembered from the failure (the second admission asks
// AWS again and gets the right answer).
import { ociImage, type FaultKind, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { resultOf, startHarness } from '../helpers/harness.ts';
import type { ReviewOutcome } from '../../src/admission/pipeline.ts';
import { fixture, fullPolicy, HOST } from './helpers.ts';

export const BUDGET_MS = 1500;
export const SLACK_MS = 1000;

export const FAULT_KINDS: readonly FaultKind[] = [
  'throttle',
  'server-error',
  'unavailable',
  'reset',
  'slow',
  'access-denied',
  'expired-token',
  'unrecognized-client',
  'malformed',
];

export interface FaultTarget {
  /** Sandbox operation name: 'ecr:BatchGetImage', 'layer:GET', ... */
  readonly op: string;
  /** The check that depends on it. */
  readonly check: string;
  /** How messages name it. */
  readonly names: RegExp;
  /** The image whose admission makes the call. */
  readonly image: string;
  /** What the admission decides without faults. */
  readonly allowedWithoutFault: boolean;
  /** Said by the denial without faults (archived images). */
  readonly messageWithoutFault?: RegExp;
}

/** The repository "app" plus an archived image, for DescribeImages (asked only when
 *  BatchGetImage cannot serve a tag). */
export function faultFixture(): SandboxFixture {
  const f = fixture();
  f.accounts['111122223333']!.regions['us-east-1']!.repositories[0]!.images.push(ociImage({ seed: 'hardening-archived', tags: ['old'], status: 'ARCHIVED' }));
  return f;
}

const good = `${HOST}/app:1.0`;

export const TARGETS: readonly FaultTarget[] = [
  { op: 'ecr:BatchGetImage', check: 'digest', names: /ecr BatchGetImage/, image: good, allowedWithoutFault: true },
  { op: 'ecr:DescribeRepositories', check: 'immutability', names: /ecr DescribeRepositories/, image: good, allowedWithoutFault: true },
  {
    op: 'ecr:DescribeImages',
    check: 'digest',
    names: /ecr DescribeImages/,
    image: `${HOST}/app:old`,
    allowedWithoutFault: false,
    messageWithoutFault: /tag old is archived/,
  },
  { op: 'ecr:ListImageReferrers', check: 'signature', names: /ecr ListImageReferrers/, image: good, allowedWithoutFault: true },
  { op: 'ecr:GetDownloadUrlForLayer', check: 'signature', names: /ecr GetDownloadUrlForLayer/, image: good, allowedWithoutFault: true },
  { op: 'layer:GET', check: 'signature', names: /ecr layer download/, image: good, allowedWithoutFault: true },
  { op: 'signer:GetRevocationStatus', check: 'signature', names: /signer GetRevocationStatus/, image: good, allowedWithoutFault: true },
  { op: 'inspector2:ListFindings', check: 'vulnerabilities', names: /inspector2 ListFindings/, image: good, allowedWithoutFault: true },
  { op: 'inspector2:ListCoverage', check: 'vulnerabilities', names: /inspector2 ListCoverage/, image: good, allowedWithoutFault: true },
];

/** "ecr BatchGetImage", "signer GetRevocationStatus", "inspector2 ListFindings", "ecr layer download". */
export const NAMES_A_CALL = /\b(ecr|signer|inspector2) ([A-Z][A-Za-z]+|layer download)\b/;

export interface CellResult {
  readonly label: string;
  readonly problems: string[];
  readonly ms: number;
}

function problemsOf(outcome: ReviewOutcome, target: FaultTarget, onError: 'deny' | 'allow', ms: number): string[] {
  const problems: string[] = [];
  if (ms > BUDGET_MS + SLACK_MS) problems.push(`decided after ${ms} ms`);
  const failing = outcome.images[0]?.results.filter((r) => r.status === 'error' || r.status === 'fail') ?? [];
  const own = resultOf(outcome, target.check);
  if (own?.status === 'pass') problems.push(`${target.check} passed while ${target.op} failed`);
  const errors = failing.filter((r) => r.status === 'error');
  if (errors.length === 0) problems.push(`no error result (${failing.map((r) => `${r.check}:${r.status}:${r.reason}`).join('; ') || 'all passed'})`);
  // The faulted call is named; a check that ran out of time meanwhile names its own call.
  if (errors.length > 0 && !errors.some((r) => target.names.test(r.reason ?? '')))
    problems.push(`no error names ${target.names.source}: ${errors.map((r) => `[${r.check}] ${r.reason}`).join('; ')}`);
  for (const r of errors) if (!NAMES_A_CALL.test(r.reason ?? '')) problems.push(`[${r.check}] error names no AWS call: ${r.reason}`);
  if (failing.some((r) => r.status === 'fail') && target.allowedWithoutFault) problems.push(`a fail from a fault: ${failing.map((r) => r.reason).join('; ')}`);
  const wantAllowed = onError === 'allow' && !failing.some((r) => r.status === 'fail');
  if (outcome.response.allowed !== wantAllowed) problems.push(`allowed=${outcome.response.allowed} under onError ${onError}`);
  const said = onError === 'deny' ? (outcome.response.status?.message ?? '') : (outcome.response.warnings ?? []).join('\n');
  if (!said.includes(`[${errors[0]?.check ?? target.check}]`))
    problems.push(`the ${onError === 'deny' ? 'denial' : 'warnings'} do not name the check: ${said.slice(0, 200)}`);
  return problems;
}

/** Runs one cell; never throws, returns what went wrong. */
export async function runCell(target: FaultTarget, kind: FaultKind, onError: 'deny' | 'allow'): Promise<CellResult> {
  const label = `${target.op} ${kind} onError=${onError}`;
  const h = await startHarness({ fixture: faultFixture(), policy: fullPolicy({ onError }), budgetMs: BUDGET_MS });
  try {
    h.sandbox.inject(target.op, { kind, delayMs: BUDGET_MS * 3 });
    const started = Date.now();
    const faulted = await h.reviewPod([target.image]);
    const ms = Date.now() - started;
    const problems = h.sandbox.calls(target.op) === 0 ? [`${target.op} was never called`] : problemsOf(faulted, target, onError, ms);

    h.sandbox.clearFaults();
    const callsBefore = h.sandbox.calls(target.op);
    const healthy = await h.reviewPod([target.image]);
    if (h.sandbox.calls(target.op) === callsBefore)
      problems.push(`after the fault cleared, ${target.op} was not asked again (an answer was remembered from the failure)`);
    if (healthy.response.allowed !== target.allowedWithoutFault)
      problems.push(`after the fault cleared: allowed=${healthy.response.allowed}: ${healthy.response.status?.message ?? ''}`);
    if (target.messageWithoutFault && !target.messageWithoutFault.test(healthy.response.status?.message ?? ''))
      problems.push(`after the fault cleared: ${healthy.response.status?.message}`);
    return { label, problems, ms };
  } finally {
    await h.close();
  }
}

/** Runs cells `width` at a time. */
export async function runCells<T>(items: readonly T[], width: number, run: (item: T) => Promise<CellResult>): Promise<CellResult[]> {
  const out: CellResult[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        out.push(await run(item));
      }
    }),
  );
  return out;
}
