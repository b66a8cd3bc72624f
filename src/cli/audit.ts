// `ecr-admission audit`: the posture of every repository of the policy's ECR registries (each
// account and region), then the registry-level findings. Exit 0 when everything passes, 1 when
// something fails or could not be read, 2 on usage or configuration errors.
import type { Logger } from 'pino';
import type { AuditOptions } from './args.ts';
import { createPolicyStore } from '../policy/store.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import { AwsClients } from '../facts/aws-clients.ts';
import { createMetrics } from '../support/metrics.ts';
import { AdmissionError, ErrorCodes, errorMessage } from '../support/errors.ts';
import { credentialProvider } from './wiring.ts';
import {
  creationTemplatesOf,
  lifecyclePolicyOf,
  pullThroughCacheRulesOf,
  repositoriesOf,
  repositoryPolicyOf,
  scanningOf,
  type ThrottlePolicy,
  type WalkedRepository,
} from '../facts/ecr/registry-walk.ts';
import type { RegistryScanning } from '../facts/ecr/scan.ts';
import { encryptionVerdict, lifecycleVerdict, policyVerdict, scanningVerdict, type ItemVerdict } from '../checks/posture-items.ts';
import { pullThroughCacheFindings, scanningFinding, tagImmutabilityVerdict, templateFindings, type RegistryFinding } from '../checks/registry-findings.ts';
import { formatAuditJson, formatAuditText, type AuditReport, type AuditRegistry, type AuditRow, type AuditCell } from './audit-report.ts';
import type { ECRClient } from '@aws-sdk/client-ecr';

/** Repositories examined at once (each makes two calls): enough to hide latency, few enough to
 *  stay under ECR's request rates beside the kubelets' pulls. */
export const AUDIT_CONCURRENCY = 8;

interface Target {
  readonly accountId: string;
  readonly region: string;
}

/** The registries to walk: the policy's accounts and their regions, narrowed by --account and
 *  --region; an account that lists no region needs --region. */
export function auditTargets(policy: CompiledPolicy, options: Pick<AuditOptions, 'account' | 'region'>): Target[] {
  const accounts = [...policy.ecrAccounts.values()];
  if (accounts.length === 0) throw new AdmissionError(ErrorCodes.CONFIG_INVALID, 'the policy names no ECR registry (registries.ecr): nothing to audit');
  const chosen = options.account !== undefined ? accounts.filter((a) => a.accountId === options.account) : accounts;
  if (chosen.length === 0) throw new AdmissionError(ErrorCodes.USAGE, `--account ${options.account} is not one of the policy's registries.ecr accounts`);
  const targets: Target[] = [];
  for (const a of chosen) {
    if (options.region !== undefined) {
      if (a.regions !== undefined && !a.regions.includes(options.region)) {
        throw new AdmissionError(ErrorCodes.USAGE, `--region ${options.region} is not one of account ${a.accountId}'s regions (${a.regions.join(', ')})`);
      }
      targets.push({ accountId: a.accountId, region: options.region });
    } else if (a.regions !== undefined) {
      for (const region of a.regions) targets.push({ accountId: a.accountId, region });
    } else {
      throw new AdmissionError(ErrorCodes.USAGE, `account ${a.accountId} lists no regions in the policy: give --region`);
    }
  }
  return targets;
}

/** Runs `work` over `items`, at most `limit` at a time, in order of start. */
async function eachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const cellOf = (v: ItemVerdict): AuditCell => ({ status: v.ok ? 'pass' : 'fail', detail: v.detail, ...(v.fix !== undefined && { fix: v.fix }) });
const errorCell = (err: unknown): AuditCell => ({ status: 'error', detail: errorMessage(err) });

async function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

async function auditRepository(
  client: ECRClient,
  target: Target,
  repo: WalkedRepository,
  scanning: AuditScanning,
  throttle: ThrottlePolicy,
): Promise<AuditRow> {
  const loc = { ...target, repository: repo.name };
  const [lifecycle, policy] = await Promise.all([
    settle(lifecyclePolicyOf(client, target.accountId, repo.name, throttle)),
    settle(repositoryPolicyOf(client, target.accountId, repo.name, throttle)),
  ]);
  const scanCell = 'value' in scanning ? cellOf(scanningVerdict(scanning.value, repo, loc)) : errorCell(scanning.error);
  const policyCell: AuditCell = 'value' in policy ? cellOf(policyVerdict(policy.value, loc)) : errorCell(policy.error);
  return {
    repository: repo.name,
    'ECR.1': scanCell,
    'ECR.2': cellOf(tagImmutabilityVerdict(repo, loc)),
    'ECR.3': 'value' in lifecycle ? cellOf(lifecycleVerdict(lifecycle.value, loc)) : errorCell(lifecycle.error),
    'ECR.5': cellOf(encryptionVerdict(repo, loc)),
    // "none" is a pass the admin should review: access then comes from IAM identity policies alone.
    policy:
      'value' in policy && policy.value.text === undefined
        ? { status: 'none', detail: 'no repository policy (access from IAM identity policies only: review them)' }
        : policyCell,
  };
}

type AuditScanning = { value: RegistryScanning } | { error: unknown };

async function auditRegistry(clients: AwsClients, target: Target, throttle: ThrottlePolicy, progress: (line: string) => void): Promise<AuditRegistry> {
  const client = clients.ecr(target.accountId, target.region);
  const where = `${target.accountId} ${target.region}`;
  const scanning: AuditScanning = await settle(
    scanningOf(client, target.accountId, throttle).then((s) => {
      if (!s.authoritative)
        throw new Error(`GetRegistryScanningConfiguration described another registry than ${target.accountId}'s: set registries.ecr[].roleArn`);
      return s;
    }),
  );
  const [ptc, templates] = await Promise.all([
    settle(pullThroughCacheRulesOf(client, target.accountId, throttle)),
    settle(creationTemplatesOf(client, throttle)),
  ]);
  const rows: AuditRow[] = [];
  const errors: RegistryFinding[] = [];
  let walked = 0;
  try {
    for await (const page of repositoriesOf(client, target.accountId, throttle)) {
      await eachBounded(page, AUDIT_CONCURRENCY, async (repo) => {
        rows.push(await auditRepository(client, target, repo, scanning, throttle));
        if (++walked % 100 === 0) progress(`audit: ${where}: ${walked} repositories`);
      });
    }
  } catch (err) {
    errors.push({ kind: 'scanning', subject: 'repositories', ok: false, detail: `could not list the repositories: ${errorMessage(err)}` });
  }
  progress(`audit: ${where}: ${walked} repositories, done`);
  rows.sort((a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0));

  const findings: RegistryFinding[] = [...errors];
  const registry = { accountId: target.accountId, region: target.region };
  if ('value' in scanning) {
    findings.push(
      scanningFinding(
        scanning.value,
        registry,
        rows.filter((r) => r['ECR.1'].status === 'fail').map((r) => r.repository),
      ),
    );
  } else findings.push({ kind: 'scanning', subject: 'registry', ok: false, detail: `not verified: ${errorMessage(scanning.error)}` });
  if ('error' in ptc) findings.push({ kind: 'pull-through-cache', subject: 'rules', ok: false, detail: `not verified: ${errorMessage(ptc.error)}` });
  if ('error' in templates)
    findings.push({ kind: 'creation-template', subject: 'templates', ok: false, detail: `not verified: ${errorMessage(templates.error)}` });
  if ('value' in ptc && 'value' in templates) findings.push(...pullThroughCacheFindings(ptc.value, templates.value, registry));
  if ('value' in templates) findings.push(...templateFindings(templates.value, registry));
  return {
    accountId: target.accountId,
    region: target.region,
    ...('value' in scanning && { scanType: scanning.value.scanType }),
    repositories: rows,
    findings,
  };
}

/** Walks the registries and returns the report (no printing: the caller formats it). */
export async function runAudit(
  policy: CompiledPolicy,
  options: Pick<AuditOptions, 'account' | 'region'>,
  clients: AwsClients,
  progress: (line: string) => void,
  throttle: ThrottlePolicy = {},
): Promise<AuditReport> {
  const targets = auditTargets(policy, options);
  const registries: AuditRegistry[] = [];
  // Registries one after another: each already keeps AUDIT_CONCURRENCY repositories under way.
  for (const target of targets) registries.push(await auditRegistry(clients, target, throttle, progress));
  return { registries };
}

export async function audit(
  options: AuditOptions,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  print: (line: string) => void,
  progress: (line: string) => void,
): Promise<number> {
  const metrics = createMetrics();
  const policyStore = createPolicyStore({ ...(options.config !== undefined && { path: options.config }), logger, metrics });
  const policy = policyStore.current();
  const clients = new AwsClients({
    env,
    aws: policy.aws,
    roleFor: (accountId) => policy.ecrAccounts.get(accountId)?.roleArn,
    metrics,
    credentials: credentialProvider({ env }),
  });
  const started = Date.now();
  let throttled = 0;
  try {
    const report = await runAudit(policy, options, clients, progress, { onThrottle: () => throttled++ });
    const calls = (await metrics.awsCalls.get()).values.reduce((n, v) => n + v.value, 0);
    progress(`audit: ${calls} AWS calls (${throttled} throttled and retried) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    print(options.output === 'json' ? formatAuditJson(report) : formatAuditText(report));
    return auditFailed(report) ? 1 : 0;
  } finally {
    clients.destroy();
  }
}

export function auditFailed(report: AuditReport): boolean {
  return report.registries.some(
    (r) =>
      r.findings.some((f) => !f.ok) ||
      r.repositories.some((row) =>
        [row['ECR.1'], row['ECR.2'], row['ECR.3'], row['ECR.5'], row.policy].some((c) => c.status === 'fail' || c.status === 'error'),
      ),
  );
}
