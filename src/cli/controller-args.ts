// `ecr-admission controller` flags (each also an ECR_ADMISSION_* variable, as for serve). Kept
// apart from args.ts, which hands over its helpers so every command parses the same way.
import type { AdmissionError } from '../support/errors.ts';
import { parseLabelSelector, type LabelSelector } from '../controller/namespace-scope.ts';

export interface ControllerCommandOptions {
  readonly command: 'controller';
  readonly config?: string;
  readonly healthPort: number;
  readonly host: string;
  readonly logLevel: string;
  /** Every running image is checked again this often (default 5 minutes). */
  readonly intervalMs: number;
  /** Images checked at once. */
  readonly concurrency: number;
  /** Time allowed for one image's checks. */
  readonly budgetMs: number;
  readonly reloadIntervalMs: number;
  /** The Lease (in ownNamespace, default "default" outside a cluster) that elects the active instance. */
  readonly leaseName: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly ownNamespace?: string;
  /** The webhook configuration's namespaceSelector (ECR_ADMISSION_NAMESPACE_SELECTOR, JSON, set
   *  by the chart): Pods of namespaces it does not select are not reported. Absent: every namespace. */
  readonly namespaceSelector?: LabelSelector;
  /** This instance in the Lease: the Pod name (POD_NAME, from the chart's downward API) or the host name. */
  readonly identity?: string;
}

type Env = Readonly<Record<string, string | undefined>>;
type Values = Record<string, unknown>;

export interface ArgHelpers {
  parse(args: readonly string[], options: Record<string, { type: 'string' }>): Values;
  pick(values: Values, env: Env, flag: string): string | undefined;
  integer(values: Values, env: Env, flag: string, dflt: number, min: number, max: number): number;
  usage(message: string): AdmissionError;
}

const STRING = { type: 'string' } as const;
const FLAGS = [
  'config',
  'health-port',
  'host',
  'log-level',
  'interval-ms',
  'concurrency',
  'budget-ms',
  'reload-interval-ms',
  'lease-name',
  'lease-duration-ms',
  'renew-deadline-ms',
  'retry-period-ms',
] as const;

export function parseControllerArgs(args: readonly string[], env: Env, h: ArgHelpers): ControllerCommandOptions {
  const values = h.parse(args, Object.fromEntries(FLAGS.map((f) => [f, STRING])));
  const config = h.pick(values, env, 'config');
  const leaseDurationMs = h.integer(values, env, 'lease-duration-ms', 15_000, 1000, 600_000);
  const renewDeadlineMs = h.integer(values, env, 'renew-deadline-ms', 10_000, 200, 600_000);
  const retryPeriodMs = h.integer(values, env, 'retry-period-ms', 2_000, 100, 600_000);
  if (!(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs))
    throw h.usage('--retry-period-ms < --renew-deadline-ms < --lease-duration-ms must hold (a leader steps down before its lease runs out)');
  const ownNamespace = env.ECR_ADMISSION_NAMESPACE;
  const identity = env.POD_NAME;
  const selectorText = env.ECR_ADMISSION_NAMESPACE_SELECTOR;
  let namespaceSelector: LabelSelector | undefined;
  if (selectorText !== undefined && selectorText !== '') {
    try {
      namespaceSelector = parseLabelSelector(selectorText);
    } catch (err) {
      throw h.usage(`ECR_ADMISSION_NAMESPACE_SELECTOR: ${(err as Error).message}`);
    }
  }
  return {
    command: 'controller',
    ...(config !== undefined && { config }),
    healthPort: h.integer(values, env, 'health-port', 8080, 0, 65535),
    host: h.pick(values, env, 'host') ?? '::',
    logLevel: h.pick(values, env, 'log-level') ?? 'info',
    intervalMs: h.integer(values, env, 'interval-ms', 300_000, 1000, 86_400_000),
    concurrency: h.integer(values, env, 'concurrency', 16, 1, 256),
    budgetMs: h.integer(values, env, 'budget-ms', 30_000, 100, 600_000),
    reloadIntervalMs: h.integer(values, env, 'reload-interval-ms', 5000, 50, 600_000),
    leaseName: h.pick(values, env, 'lease-name') ?? 'ecr-admission-controller',
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    ...(ownNamespace !== undefined && ownNamespace !== '' && { ownNamespace }),
    ...(identity !== undefined && identity !== '' && { identity }),
    ...(namespaceSelector !== undefined && { namespaceSelector }),
  };
}
