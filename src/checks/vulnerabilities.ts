// vulnerabilities: has Inspector scanned this digest, and does it have active findings at a
// denied severity, net of unexpired exceptions? A digest nobody has scanned is not "clean":
// its scan state is named and handled by policy notScanned (deny by default).
import type { VulnerabilitiesCheckConfig } from '../policy/schema.ts';
import { DAY_MS, type VulnerabilityException } from '../policy/exceptions.ts';
import { isScanned, type VulnerabilityFacts, type VulnerabilityFinding, type VulnerabilityReport } from '../facts/vulnerabilities.ts';
import { remainingMs } from './ecr-messages.ts';
import { error, fail, pass, type Check, type CheckOutcome, type EcrImageLocation } from './types.ts';
import {
  describeFindings,
  describeScanState,
  findingsSource,
  fixHint,
  groupByVulnerability,
  subjectOf,
  vulnerabilityFactFailure,
} from './vulnerability-messages.ts';

export const DEFAULT_DENY_SEVERITIES = ['CRITICAL'] as const;
/** An exception this close to its end warns whoever relies on it. */
export const EXPIRY_WARNING_MS = 7 * DAY_MS;

/** Policy filters: only findings with a fix, only findings at or above a score. A finding that
 *  does not say (BASIC scanning has neither) is counted: missing data never waives. */
function counts(f: VulnerabilityFinding, config: VulnerabilitiesCheckConfig): boolean {
  if (config.fixAvailableOnly === true && f.fixAvailable !== undefined && f.fixAvailable !== 'YES' && f.fixAvailable !== 'PARTIAL') return false;
  if (config.minInspectorScore !== undefined && f.inspectorScore !== undefined && f.inspectorScore < config.minInspectorScore) return false;
  return true;
}

function expiryWarning(e: VulnerabilityException, now: number): string {
  const days = Math.floor((e.endsAt - now) / DAY_MS);
  const when = days === 0 ? 'today' : `in ${days} day${days === 1 ? '' : 's'}`;
  return `[vulnerabilities] exception for ${e.id} expires ${e.expires} (${when})`;
}

/** Pure: the verdict on one image's report under one policy (its settings and its exceptions,
 *  compiled at load) at one instant. */
export function evaluateReport(
  report: VulnerabilityReport,
  config: VulnerabilitiesCheckConfig,
  policyExceptions: readonly VulnerabilityException[],
  imageRef: string,
  now: Date,
  loc: EcrImageLocation,
): CheckOutcome {
  const at = now.getTime();
  const exceptions = policyExceptions.filter((e) => e.matches(imageRef));
  const denied: VulnerabilityFinding[] = [];
  const expired = new Map<string, VulnerabilityException>();
  const relied = new Map<string, VulnerabilityException>();
  let filtered = 0;
  let waived = 0;
  for (const f of report.findings) {
    if (!counts(f, config)) {
      filtered++;
      continue;
    }
    const forFinding = exceptions.filter((e) => e.id === f.id.toUpperCase());
    const valid = forFinding.filter((e) => at < e.endsAt).sort((a, b) => b.endsAt - a.endsAt)[0];
    if (valid) {
      waived++;
      relied.set(valid.id, valid);
      continue;
    }
    for (const e of forFinding) expired.set(`${e.id} ${e.expires}`, e);
    denied.push(f);
  }
  const warnings = [...relied.values()].filter((e) => e.endsAt - at <= EXPIRY_WARNING_MS).map((e) => expiryWarning(e, at));
  const extra = warnings.length > 0 ? { warnings } : {};

  if (denied.length > 0) {
    const lapsed = [...expired.values()].map((e) => `exception for ${e.id} (${e.images.join(', ')}) expired on ${e.expires}`);
    const reason = `${describeFindings(groupByVulnerability(denied, report.manifests), report)}${lapsed.length > 0 ? `; ${lapsed.join('; ')}` : ''}`;
    return fail('vulnerabilities', reason, fixHint(report, lapsed.length > 0), extra);
  }
  if (report.truncated) {
    return error(
      'vulnerabilities',
      'more findings than the webhook reads per image; every finding it read is waived or filtered, so the rest decide',
      "Fix the image's findings, or narrow denySeverities; the webhook does not admit an image it could not read fully.",
    );
  }

  const severities = (config.denySeverities ?? DEFAULT_DENY_SEVERITIES).join('/');
  const notes = [
    ...(waived > 0 ? [`${waived} waived by exceptions`] : []),
    ...(filtered > 0 ? [`${filtered} below the policy's filters`] : []),
    ...[findingsSource(report)].filter((s) => s !== undefined),
  ];
  const clean = `no active ${severities} findings${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;

  const unscanned = report.manifests.filter((m) => !isScanned(m));
  const first = unscanned[0];
  if (first === undefined) return pass('vulnerabilities', { reason: clean, ...extra });
  const state = describeScanState(first, report, loc);
  const others = unscanned.length > 1 ? ` (${unscanned.length - 1} more platform${unscanned.length === 2 ? '' : 's'} not scanned)` : '';
  const reason = `not scanned: ${subjectOf(first, report)} ${state.what}${others}`;
  const mode = config.notScanned ?? 'deny';
  if (mode === 'deny') return fail('vulnerabilities', reason, `${state.hint} Exceptions do not waive a scan state.`, extra);
  const admitted = `${reason}; admitted by notScanned: ${mode}`;
  if (mode === 'allow') return pass('vulnerabilities', { reason: admitted, ...extra });
  return pass('vulnerabilities', { reason: admitted, warnings: [...warnings, `[vulnerabilities] not scanned (${state.short}), admitted by notScanned: warn`] });
}

export function vulnerabilitiesCheck(facts: VulnerabilityFacts): Check {
  return {
    id: 'vulnerabilities',
    needs: ['digest'],
    enabled: (policy, image) => policy.checks.vulnerabilities !== undefined && image.managed,
    async run({ image, policy, signal, deadline, now }) {
      const config = policy.checks.vulnerabilities;
      const loc = image.ecr;
      const resolved = image.resolved;
      if (!config || !loc || !resolved) return error('vulnerabilities', 'internal error: the check ran without a resolved ECR digest');
      let report: VulnerabilityReport;
      try {
        report = await facts.report(loc, resolved, config.denySeverities ?? DEFAULT_DENY_SEVERITIES, signal, remainingMs(deadline));
      } catch (err) {
        return vulnerabilityFactFailure(err, loc);
      }
      return evaluateReport(report, config, policy.vulnerabilityExceptions ?? [], image.ref.policyName, now, loc);
    },
  };
}
