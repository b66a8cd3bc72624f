// Pure: a Pod's check results as PolicyReport results (wgpolicyk8s.io/v1alpha2, the format
// Kyverno and Policy Reporter read), the namespace's report with a summary that adds up, and a
// canonical form to compare reports by content (so an unchanged namespace is never rewritten).
//
// One result per Pod and check: `rule` is the check id, `message` the sentence the webhook
// gives for it ([check] reason. hint, decide.ts), prefixed by the container (or the image
// volume) for Pods with several images. A `fail` under a policy in warn mode is reported
// `warn`. An `error` keeps what stood before in properties.previousResult (evaluations.ts).
import { CHECK_IDS, type CheckId, type CheckResult } from '../checks/types.ts';
import { clip, problemText } from '../decision/decide.ts';
import { isImageVolume, type Site } from '../decision/image-site.ts';
import type { ImageEvaluation } from './evaluations.ts';
import type { PodImages } from './pod-images.ts';

export const REPORT_NAME = 'ecr-admission';
export const POLICY_NAME = 'ecr-admission';
export const REPORT_API_VERSION = 'wgpolicyk8s.io/v1alpha2';

export type ReportResultValue = 'pass' | 'fail' | 'warn' | 'error' | 'skip';
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export interface TrackedPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly images: PodImages;
  /** The evaluation key of each container, in the order of images.containers. */
  readonly keys: readonly string[];
}

export interface ReportResult {
  policy: string;
  rule: string;
  result: ReportResultValue;
  message: string;
  source: string;
  scored: boolean;
  severity?: Severity;
  resources: Array<{ apiVersion: string; kind: string; name: string; namespace: string; uid: string }>;
  properties: Record<string, string>;
}

export interface PodOutcome {
  readonly result: ReportResult;
  /** What the check says when errors are set aside (undefined: it never said anything else). */
  readonly standing?: ReportResultValue;
}

export interface PolicyReportSummary {
  pass: number;
  fail: number;
  warn: number;
  error: number;
  skip: number;
}

export interface PolicyReportBody {
  results: ReportResult[];
  summary: PolicyReportSummary;
}

const RANK: Readonly<Record<ReportResultValue, number>> = { fail: 5, error: 4, warn: 3, pass: 2, skip: 1 };
const worse = (a: ReportResultValue | undefined, b: ReportResultValue | undefined) => (a === undefined ? b : b === undefined ? a : RANK[b] > RANK[a] ? b : a);

/** Message bound per result: a report holds every Pod of a namespace and etcd objects are capped. */
const MESSAGE_MAX = 1024;
const CVE = /\b(?:CVE-\d{4}-\d{4,}|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3})\b/g;
const SEVERITY_WORD = /\b(CRITICAL|HIGH|MEDIUM|LOW)\b/;

function reported(r: CheckResult, mode: string | undefined): ReportResultValue {
  if (r.status === 'fail') return mode === 'warn' ? 'warn' : 'fail';
  return r.status;
}

function sentence(r: CheckResult): string {
  return r.status === 'pass' ? `[${r.check}] passed` : problemText(r);
}

function severityOf(r: CheckResult): Severity | undefined {
  if (r.check !== 'vulnerabilities' || r.status !== 'fail') return undefined;
  const word = SEVERITY_WORD.exec(r.reason ?? '')?.[1];
  return word ? (word.toLowerCase() as Severity) : undefined;
}

interface Part {
  /** The container or image volume the result is for. */
  readonly site: Site;
  readonly image: string;
  readonly digest?: string;
  readonly result: CheckResult;
  readonly value: ReportResultValue;
  readonly standing?: ReportResultValue;
}

/** How a message names the part's site: `container "app"`, `volume "payload"`. */
function partLabel(p: Part): string {
  return `${isImageVolume(p.site) ? 'volume' : 'container'} "${p.site.containerName}"`;
}

function podResource(pod: TrackedPod) {
  return [{ apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace, uid: pod.uid }];
}

function outcome(pod: TrackedPod, rule: string, parts: readonly Part[]): PodOutcome {
  let value: ReportResultValue | undefined;
  let standing: ReportResultValue | undefined;
  for (const p of parts) {
    value = worse(value, p.value);
    standing = worse(standing, p.standing);
  }
  const several = new Set(parts.map(partLabel)).size > 1;
  const message = clip(parts.map((p) => (several ? `${partLabel(p)}: ${sentence(p.result)}` : sentence(p.result))).join('\n'), MESSAGE_MAX);
  const distinct = (values: Array<string | undefined>) => [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))].join(', ');
  const cves = distinct(parts.flatMap((p) => (p.value === 'fail' || p.value === 'warn' ? ((p.result.reason ?? '').match(CVE) ?? []) : [])));
  const severity = parts.map((p) => severityOf(p.result)).find((s) => s !== undefined);
  const properties: Record<string, string> = {
    container: clip(distinct(parts.filter((p) => !isImageVolume(p.site)).map((p) => p.site.containerName)), 512),
    image: clip(distinct(parts.map((p) => p.image)), 1024),
  };
  const volumes = distinct(parts.filter((p) => isImageVolume(p.site)).map((p) => p.site.containerName));
  if (volumes !== '') properties.volume = clip(volumes, 512);
  const digest = distinct(parts.map((p) => p.digest));
  if (digest !== '') properties.digest = clip(digest, 1024);
  if (cves !== '') properties.cves = clip(cves, 1024);
  if (value === 'error' && standing !== undefined && standing !== 'error') properties.previousResult = standing;
  return {
    result: {
      policy: POLICY_NAME,
      rule,
      result: value ?? 'skip',
      message,
      source: 'ecr-admission',
      scored: true,
      ...(severity !== undefined && { severity }),
      resources: podResource(pod),
      properties,
    },
    ...(standing !== undefined && { standing }),
  };
}

/**
 * A Pod's results, one per check, or undefined while one of its images has not been evaluated
 * yet (the Pod then keeps its previous entries rather than showing half its checks).
 */
export function podOutcomes(pod: TrackedPod, lookup: (key: string) => ImageEvaluation | undefined): PodOutcome[] | undefined {
  if ('error' in pod.images) {
    const result: CheckResult = { check: 'origin', status: 'error', reason: `cannot read the Pod: ${pod.images.error}` };
    return [outcome(pod, 'origin', [{ site: { containerKind: 'container', containerName: '' }, image: '', result, value: 'error' }])];
  }
  const byCheck = new Map<CheckId, Part[]>();
  const containers = pod.images.containers;
  for (let i = 0; i < containers.length; i++) {
    const evaluation = lookup(pod.keys[i]!);
    if (!evaluation) return undefined;
    const c = containers[i]!;
    const digest = evaluation.digest ?? c.runningDigest;
    for (const r of evaluation.results) {
      const stood = r.status === 'error' ? evaluation.standing.get(r.check) : r;
      const part: Part = {
        site: c.container,
        image: c.container.image,
        ...(digest !== undefined && { digest }),
        result: r,
        value: reported(r, evaluation.policy?.mode),
        ...(stood !== undefined && { standing: reported(stood, evaluation.policy?.mode) }),
      };
      byCheck.set(r.check, [...(byCheck.get(r.check) ?? []), part]);
    }
  }
  return CHECK_IDS.filter((id) => byCheck.has(id)).map((id) => outcome(pod, id, byCheck.get(id)!));
}

/** The Pod's standing as a whole: fail if a check stands failed, else pass (errors set aside). */
export function podStanding(outcomes: readonly PodOutcome[]): 'pass' | 'fail' | undefined {
  if (outcomes.some((o) => o.standing === 'fail')) return 'fail';
  return outcomes.some((o) => o.standing !== undefined) ? 'pass' : undefined;
}

const byResource = (a: ReportResult, b: ReportResult) => {
  const [ra, rb] = [a.resources[0], b.resources[0]];
  if (!ra || !rb) return ra ? -1 : rb ? 1 : 0;
  return ra.name.localeCompare(rb.name) || ra.uid.localeCompare(rb.uid) || CHECK_IDS.indexOf(a.rule as CheckId) - CHECK_IDS.indexOf(b.rule as CheckId);
};

/**
 * What one PolicyReport may weigh: etcd refuses a request over 1.5 MiB (its --max-request-bytes
 * default), and a namespace's Pods are whoever may create Pods there. Past it, results are kept
 * by weight (fail, error, warn before pass and skip) and the report says how many it left out.
 */
export const MAX_REPORT_BYTES = 1_000_000;

/** The namespace's report body: results in a stable order and their summary. */
export function buildReportBody(results: readonly ReportResult[], maxBytes = MAX_REPORT_BYTES): PolicyReportBody {
  let sorted = [...results].sort(byResource);
  let size = sorted.reduce((n, r) => n + JSON.stringify(r).length + 1, 0);
  if (size > maxBytes) {
    // The heaviest results first, each kept while the budget lasts; the kept ones in report order.
    const byWeight = [...sorted].sort((a, b) => RANK[b.result] - RANK[a.result] || byResource(a, b));
    const kept = new Set<ReportResult>();
    size = 0;
    for (const r of byWeight) {
      const n = JSON.stringify(r).length + 1;
      if (size + n > maxBytes) break;
      kept.add(r);
      size += n;
    }
    const omitted = sorted.length - kept.size;
    sorted = sorted.filter((r) => kept.has(r));
    // The cut is visible where the report is read, as a result of its own.
    sorted.push({
      policy: POLICY_NAME,
      rule: 'report-size',
      result: 'warn',
      message: `${omitted} of ${omitted + kept.size} results left out: the report would exceed ${maxBytes} bytes (passing results go first)`,
      source: 'ecr-admission',
      scored: false,
      resources: [],
      properties: { omitted: String(omitted) },
    });
  }
  const summary: PolicyReportSummary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of sorted) summary[r.result]++;
  return { results: sorted, summary };
}

function canonicalValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalValue);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonicalValue((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Results and summary with keys sorted (what the API server returns adds or reorders nothing here). */
export function canonicalReport(body: { results?: unknown; summary?: unknown }): string {
  return JSON.stringify(canonicalValue({ results: body.results ?? [], summary: body.summary ?? {} }));
}

/**
 * Each Pod's standing as a stored report records it (a new leader's memory of pass and fail, so
 * a Pod that turns to fail after a takeover still gets its Event). Read defensively: the stored
 * object is whatever the API server holds.
 */
export function standingsFromReport(results: unknown): Map<string, 'pass' | 'fail'> {
  const standings = new Map<string, 'pass' | 'fail'>();
  if (!Array.isArray(results)) return standings;
  for (const r of results.slice(0, 100_000) as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const { result, resources, properties } = r as { result?: unknown; resources?: unknown; properties?: { previousResult?: unknown } };
    const uid = Array.isArray(resources) ? (resources[0] as { uid?: unknown } | undefined)?.uid : undefined;
    if (typeof uid !== 'string' || uid === '') continue;
    const failed = result === 'fail' || (result === 'error' && properties?.previousResult === 'fail');
    if (failed) standings.set(uid, 'fail');
    else if ((result === 'pass' || result === 'warn') && !standings.has(uid)) standings.set(uid, 'pass');
  }
  return standings;
}
