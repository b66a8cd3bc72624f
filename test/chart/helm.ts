// Runs the real helm (scripts/tools/ensure-helm.sh) on the chart and parses what it renders,
// for the chart tests. Nothing here talks to a cluster.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHART_DIR = join(REPO_ROOT, 'chart', 'ecr-admission');
export const RELEASE = 'ecr-admission';
export const NAMESPACE = 'security-system';

/** The CI values files (chart/ecr-admission/ci/*-values.yaml), by file name. */
export const CI_VALUES_FILES: readonly string[] = readdirSync(join(CHART_DIR, 'ci'))
  .filter((name) => name.endsWith('-values.yaml'))
  .sort();

let helmPath: string | undefined;

/** Path of the helm binary, installed into the tools cache on first use. */
export function helmBinary(): string {
  helmPath ??= join(execFileSync(join(REPO_ROOT, 'scripts', 'tools', 'ensure-helm.sh'), { encoding: 'utf8' }).trim(), 'helm');
  return helmPath;
}

export interface RenderOptions {
  /** File names under chart/ecr-admission/ci/. */
  readonly ciValues?: readonly string[];
  /** --set-json pairs, e.g. ['replicaCount=3']. */
  readonly setJson?: readonly string[];
  /** Leave image.repository unset (it is required; every other render sets TEST_IMAGE_REPOSITORY). */
  readonly withoutImage?: boolean;
  readonly namespace?: string;
  readonly release?: string;
}

export interface HelmRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function helm(args: readonly string[]): HelmRun {
  const run = spawnSync(helmBinary(), args, { encoding: 'utf8', cwd: REPO_ROOT });
  if (run.error) throw run.error;
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** image.repository is required (no published image): the tests' renders name this one. */
export const TEST_IMAGE_REPOSITORY = 'registry.example/ecr-admission';

function valueArgs(options: RenderOptions): string[] {
  const args: string[] = options.withoutImage ? [] : ['--set', `image.repository=${TEST_IMAGE_REPOSITORY}`];
  for (const file of options.ciValues ?? []) args.push('--values', join(CHART_DIR, 'ci', file));
  for (const pair of options.setJson ?? []) args.push('--set-json', pair);
  return args;
}

/** `helm template` with the given values; its result, failed or not. */
export function helmTemplate(options: RenderOptions = {}): HelmRun {
  return helm(['template', options.release ?? RELEASE, CHART_DIR, '--namespace', options.namespace ?? NAMESPACE, ...valueArgs(options)]);
}

export function helmLint(options: RenderOptions = {}): HelmRun {
  return helm(['lint', CHART_DIR, '--strict', '--namespace', options.namespace ?? NAMESPACE, ...valueArgs(options)]);
}

/** A rendered Kubernetes object: what every kind has, the rest left open. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly [field: string]: unknown;
}

/** Renders the chart (throwing with helm's message if it fails) and parses every object. */
export function renderChart(options: RenderOptions = {}): KubeObject[] {
  const run = helmTemplate(options);
  if (run.status !== 0) throw new Error(`helm template failed (${run.status}): ${run.stderr}`);
  return parseAllDocuments(run.stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
      return doc.toJS() as KubeObject | null;
    })
    .filter((obj): obj is KubeObject => obj !== null);
}

/** The one object of a kind (and name suffix, when several share the kind). */
export function only<T = KubeObject>(objects: readonly KubeObject[], kind: string, nameSuffix = ''): T {
  // A bare kind means the webhook's object: the controller's (*-controller, templates/controller.yaml)
  // are named by their suffix (test/chart/controller.test.ts).
  const matches = objects.filter(
    (o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix) && (nameSuffix !== '' || !o.metadata.name.endsWith('-controller')),
  );
  if (matches.length !== 1) throw new Error(`expected one ${kind} named *${nameSuffix}, found ${matches.length}`);
  return matches[0] as T;
}
