// Command line and environment, parsed by a pure function of (argv, env): only main.ts reads
// process.env or exits the process. Every flag has an ECR_ADMISSION_* variable; a flag wins.
import { DEFAULT_MAX_BODY_BYTES } from '../server/body-budget.ts';
import { parseArgs } from 'node:util';
import { AdmissionError, ErrorCodes } from '../support/errors.ts';
import { parseControllerArgs, type ControllerCommandOptions } from './controller-args.ts';

export const DEFAULT_CONFIG = '/etc/ecr-admission/policy.yaml';
export const DEFAULT_TLS_CERT = '/etc/ecr-admission/tls/tls.crt';
export const DEFAULT_TLS_KEY = '/etc/ecr-admission/tls/tls.key';

export interface ServeOptions {
  readonly command: 'serve';
  readonly config?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly port: number;
  readonly healthPort: number;
  readonly host: string;
  readonly budgetMs: number;
  readonly maxBodyBytes: number;
  readonly logLevel: string;
  readonly ownNamespace?: string;
  readonly reloadIntervalMs: number;
  /** Certificates kept by the server in this Secret of ownNamespace (certificates.ts). */
  readonly certificateSecret?: string;
  /** Host names (and IPs) of the kept serving certificate. */
  readonly tlsHosts?: readonly string[];
  /** ValidatingWebhookConfigurations whose caBundle/failurePolicy this server maintains; the first is the image webhook's. */
  readonly webhookConfigurations?: readonly string[];
  /** CA rotation steps (certificate-plan.ts); unset: its defaults. */
  readonly caPromoteAfterMs?: number;
  readonly caRetireAfterMs?: number;
  /** Time allowed for one /mutate's lookups (digest pinning); unset: wiring's default. */
  readonly pinBudgetMs?: number;
}

export interface CheckOptions {
  readonly command: 'check';
  readonly config?: string;
  readonly namespace: string;
  readonly output: 'text' | 'json';
  readonly budgetMs: number;
  readonly inputs: readonly string[];
}

export interface AuditOptions {
  readonly command: 'audit';
  readonly config?: string;
  readonly output: 'text' | 'json';
  readonly account?: string;
  readonly region?: string;
}

/** `pin`: manifests printed with their images pinned to tag@digest (cli/pin.ts). */
export interface PinOptions {
  readonly command: 'pin';
  readonly config?: string;
  readonly budgetMs: number;
  readonly files: readonly string[];
}

export interface DemoOptions {
  readonly command: 'demo';
  readonly logLevel: string;
}

export interface SandboxOptions {
  readonly command: 'sandbox';
  readonly port: number;
  readonly host: string;
}

export interface HelpOptions {
  readonly command: 'help' | 'version';
}

export type Command = ServeOptions | CheckOptions | AuditOptions | PinOptions | ControllerCommandOptions | DemoOptions | SandboxOptions | HelpOptions;

export const USAGE = `Usage: ecr-admission <command> [options]

Commands:
  serve   [--config FILE] [--tls-cert FILE --tls-key FILE] [--port 8443] [--health-port 8080]
          [--budget-ms 8000] [--max-body-bytes 18939904] [--log-level info] [--host ::]
          [--certificate-secret NAME --tls-hosts NAME,... ] [--webhook-configuration NAME,...]
          [--ca-promote-after-ms 60000] [--ca-retire-after-ms 3600000] [--pin-budget-ms 3000]
  check   [--config FILE] [--namespace NS] [--output text|json] IMAGE|FILE...
  audit   [--config FILE] [--output text|json] [--account ID] [--region R]
          the ECR posture of every repository of the policy's registries
  pin     [--config FILE] FILE...   print the manifests with each ECR image pinned to tag@digest
  controller [--config FILE] [--health-port 8080] [--interval-ms 300000] [--concurrency 16]
          [--budget-ms 30000] [--lease-name ecr-admission-controller] [--log-level info]
          re-check running Pods' images: PolicyReports, Events, metrics (one active per Lease)
  demo    run the webhook against the built-in AWS sandbox and print each decision
  sandbox [--port 4566] [--host 127.0.0.1]  serve the AWS sandbox alone (for kind and benchmarks)

Every flag also reads an environment variable: --tls-cert is ECR_ADMISSION_TLS_CERT, and so on.
Exit codes of check: 0 allowed, 1 denied, 2 usage or configuration error.
Exit codes of audit: 0 everything passes, 1 something fails, 2 usage or configuration error.
Exit codes of pin: 0 every image pinned, 1 some image could not be (named on stderr), 2 bad input.`;

function usage(message: string): AdmissionError {
  return new AdmissionError(ErrorCodes.USAGE, `${message}\n\n${USAGE}`);
}

function envName(flag: string): string {
  return `ECR_ADMISSION_${flag.replace(/-/g, '_').toUpperCase()}`;
}

type Env = Readonly<Record<string, string | undefined>>;

function pick(values: Record<string, unknown>, env: Env, flag: string): string | undefined {
  const v = values[flag];
  // `--config "$POLICY"` with POLICY unset must not quietly mean "no file" (the built-in
  // default, which allows no registry): an empty flag value is a usage error.
  if (v === '') throw usage(`--${flag} needs a value, got an empty string`);
  if (typeof v === 'string') return v;
  const e = env[envName(flag)];
  return e !== undefined && e !== '' ? e : undefined;
}

function integer(values: Record<string, unknown>, env: Env, flag: string, dflt: number, min: number, max: number): number {
  const raw = pick(values, env, flag);
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw)) throw usage(`--${flag} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw usage(`--${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

const STRING = { type: 'string' } as const;

export function parseCommandLine(argv: readonly string[], env: Env): Command {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { command: 'help' };
    case 'version':
    case '--version':
      return { command: 'version' };
    case 'serve': {
      const { values } = parse(
        rest,
        {
          config: STRING,
          'tls-cert': STRING,
          'tls-key': STRING,
          port: STRING,
          'health-port': STRING,
          host: STRING,
          'budget-ms': STRING,
          'max-body-bytes': STRING,
          'log-level': STRING,
          'reload-interval-ms': STRING,
          'certificate-secret': STRING,
          'tls-hosts': STRING,
          'webhook-configuration': STRING,
          'ca-promote-after-ms': STRING,
          'ca-retire-after-ms': STRING,
          'pin-budget-ms': STRING,
        },
        false,
      );
      const tlsCert = pick(values, env, 'tls-cert');
      const tlsKey = pick(values, env, 'tls-key');
      if ((tlsCert === undefined) !== (tlsKey === undefined)) throw usage('--tls-cert and --tls-key go together');
      const config = pick(values, env, 'config');
      const ownNamespace = env.ECR_ADMISSION_NAMESPACE;
      const certificateSecret = pick(values, env, 'certificate-secret');
      const tlsHosts = pick(values, env, 'tls-hosts')
        ?.split(',')
        .map((h) => h.trim())
        .filter((h) => h !== '');
      const webhookConfigurations = pick(values, env, 'webhook-configuration')
        ?.split(',')
        .map((h) => h.trim())
        .filter((h) => h !== '');
      if (certificateSecret !== undefined && tlsCert !== undefined)
        throw usage('--certificate-secret and --tls-cert are two sources of the serving certificate: give one');
      if (certificateSecret !== undefined && (tlsHosts === undefined || tlsHosts.length === 0))
        throw usage('--certificate-secret needs --tls-hosts (the names the API server calls)');
      if (certificateSecret !== undefined && (webhookConfigurations === undefined || webhookConfigurations.length === 0))
        throw usage('--certificate-secret needs --webhook-configuration (where the CA bundle goes)');
      if (certificateSecret !== undefined && (ownNamespace === undefined || ownNamespace === ''))
        throw usage("--certificate-secret needs ECR_ADMISSION_NAMESPACE (the Secret's namespace)");
      return {
        command: 'serve',
        ...(config !== undefined && { config }),
        ...(tlsCert !== undefined && { tlsCert }),
        ...(tlsKey !== undefined && { tlsKey }),
        port: integer(values, env, 'port', 8443, 0, 65535),
        healthPort: integer(values, env, 'health-port', 8080, 0, 65535),
        // Every IPv4 and IPv6 address (server/listen.ts).
        host: pick(values, env, 'host') ?? '::',
        budgetMs: integer(values, env, 'budget-ms', 8000, 100, 29_000),
        maxBodyBytes: integer(values, env, 'max-body-bytes', DEFAULT_MAX_BODY_BYTES, 1024, 64 * 1024 * 1024),
        logLevel: pick(values, env, 'log-level') ?? 'info',
        ...(ownNamespace !== undefined && ownNamespace !== '' && { ownNamespace }),
        reloadIntervalMs: integer(values, env, 'reload-interval-ms', 5000, 50, 600_000),
        ...(certificateSecret !== undefined && { certificateSecret }),
        ...(tlsHosts !== undefined && { tlsHosts }),
        ...(webhookConfigurations !== undefined && webhookConfigurations.length > 0 && { webhookConfigurations }),
        ...(pick(values, env, 'ca-promote-after-ms') !== undefined && { caPromoteAfterMs: integer(values, env, 'ca-promote-after-ms', 0, 100, 86_400_000) }),
        ...(pick(values, env, 'ca-retire-after-ms') !== undefined && { caRetireAfterMs: integer(values, env, 'ca-retire-after-ms', 0, 1000, 30 * 86_400_000) }),
        ...(pick(values, env, 'pin-budget-ms') !== undefined && { pinBudgetMs: integer(values, env, 'pin-budget-ms', 0, 100, 29_000) }),
      };
    }
    case 'check': {
      const { values, positionals } = parse(rest, { config: STRING, namespace: STRING, output: STRING, 'budget-ms': STRING }, true);
      const output = pick(values, env, 'output') ?? 'text';
      if (output !== 'text' && output !== 'json') throw usage(`--output must be text or json, got "${output}"`);
      if (positionals.length === 0) throw usage('check needs at least one IMAGE or FILE');
      const config = pick(values, env, 'config');
      return {
        command: 'check',
        ...(config !== undefined && { config }),
        namespace: pick(values, env, 'namespace') ?? 'default',
        output,
        budgetMs: integer(values, env, 'budget-ms', 20_000, 100, 600_000),
        inputs: positionals,
      };
    }
    case 'audit': {
      const { values } = parse(rest, { config: STRING, output: STRING, account: STRING, region: STRING }, false);
      const output = pick(values, env, 'output') ?? 'text';
      if (output !== 'text' && output !== 'json') throw usage(`--output must be text or json, got "${output}"`);
      const config = pick(values, env, 'config');
      const account = pick(values, env, 'account');
      const region = pick(values, env, 'region');
      if (account !== undefined && !/^[0-9]{12}$/.test(account)) throw usage(`--account must be a 12-digit account id, got "${account}"`);
      if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/.test(region))
        throw usage(`--region must be a region name such as us-east-1, got "${region}"`);
      return {
        command: 'audit',
        ...(config !== undefined && { config }),
        output,
        ...(account !== undefined && { account }),
        ...(region !== undefined && { region }),
      };
    }
    case 'pin': {
      const { values, positionals } = parse(rest, { config: STRING, 'budget-ms': STRING }, true);
      if (positionals.length === 0) throw usage('pin needs at least one FILE');
      const config = pick(values, env, 'config');
      return { command: 'pin', ...(config !== undefined && { config }), budgetMs: integer(values, env, 'budget-ms', 20_000, 100, 600_000), files: positionals };
    }
    case 'demo': {
      const { values } = parse(rest, { 'log-level': STRING }, false);
      return { command: 'demo', logLevel: pick(values, env, 'log-level') ?? 'warn' };
    }
    case 'sandbox': {
      const { values } = parse(rest, { port: STRING, host: STRING }, false);
      return { command: 'sandbox', port: integer(values, {}, 'port', 4566, 0, 65535), host: pick(values, {}, 'host') ?? '127.0.0.1' };
    }
    case 'controller':
      return parseControllerArgs(rest, env, { parse: (args, options) => parse(args, options, false).values, pick, integer, usage });
    default:
      throw usage(`unknown command "${command}"`);
  }
}

function parse(args: readonly string[], options: Record<string, { type: 'string' }>, allowPositionals: boolean) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals, strict: true });
  } catch (err) {
    throw usage((err as Error).message);
  }
}
