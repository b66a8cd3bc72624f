// The namespace-label guard (chart: webhook.namespaceOptOutLabel, webhook-namespace-label.yaml).
// When an admin turns the opt-out label on, a Namespace create or update that sets it to "true"
// (or, in optIn mode, takes the opt-in label off) would switch the image checks off for that
// namespace: only the configured groups and users may make such a change. The API server sends
// only those changes (matchConditions); this reads the objects again and never trusts that.
import { isObject } from '../support/json.ts';
import type { AdmissionRequest } from './codec.ts';
import type { NamespaceLabelChange } from '../decision/types.ts';

export interface NamespaceLabelGuard {
  readonly optOutLabel: string;
  /** Set in optIn mode: removing it (or setting it to anything but "true") also narrows the checks. */
  readonly optInLabel?: string;
  readonly groups: ReadonlySet<string>;
  readonly users: ReadonlySet<string>;
}

type Env = Readonly<Record<string, string | undefined>>;

// A Kubernetes label key: an optional DNS-subdomain prefix and a name of at most 63 characters.
const LABEL_KEY = /^(?:(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\.)*[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

function names(env: Env, variable: string): string[] {
  const text = env[variable];
  if (text === undefined || text === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${variable} must be a JSON array of strings, e.g. ["platform-admins"]`);
  }
  if (!Array.isArray(parsed) || parsed.length > 256 || !parsed.every((n) => typeof n === 'string' && n !== '' && n.length <= 1024)) {
    throw new Error(`${variable} must be a JSON array of at most 256 non-empty strings`);
  }
  return parsed as string[];
}

/** The guard from the environment the chart sets, or undefined when no opt-out label is on. */
export function namespaceLabelGuardFromEnv(env: Env): NamespaceLabelGuard | undefined {
  const optOutLabel = env['ECR_ADMISSION_OPT_OUT_LABEL'];
  if (optOutLabel === undefined || optOutLabel === '') return undefined;
  const optInLabel = env['ECR_ADMISSION_OPT_IN_LABEL'] || undefined;
  for (const [variable, key] of [
    ['ECR_ADMISSION_OPT_OUT_LABEL', optOutLabel],
    ['ECR_ADMISSION_OPT_IN_LABEL', optInLabel],
  ] as const) {
    if (key !== undefined && (key.length > 317 || !LABEL_KEY.test(key))) throw new Error(`${variable} ${JSON.stringify(key.slice(0, 80))} is not a label key`);
  }
  return {
    optOutLabel,
    ...(optInLabel !== undefined && { optInLabel }),
    groups: new Set(names(env, 'ECR_ADMISSION_LABEL_EDITOR_GROUPS')),
    users: new Set(names(env, 'ECR_ADMISSION_LABEL_EDITOR_USERS')),
  };
}

/** A label's value on an object, or undefined (absent, or not a string: the API server validates labels). */
function labelOf(object: unknown, key: string): string | undefined {
  if (!isObject(object) || !isObject(object.metadata) || !isObject(object.metadata.labels)) return undefined;
  const value = object.metadata.labels[key];
  return typeof value === 'string' ? value : undefined;
}

/** Subresources of a Namespace whose updates keep the metadata they carry: the API server resets
 *  the spec (status) or the status (finalize) of such an update, not its labels. Attacker
 *  review: a tenant with update on namespaces/status set the opt-out label that way, on
 *  kube-apiserver 1.32 and 1.37. */
const NAMESPACE_WRITES: ReadonlySet<string> = new Set(['status', 'finalize']);

/** A request that writes a Namespace's labels: the Namespace itself, or its status or finalize. */
export function isNamespaceRequest(request: AdmissionRequest): boolean {
  return request.kind.group === '' && request.kind.kind === 'Namespace' && (request.subResource === undefined || NAMESPACE_WRITES.has(request.subResource));
}

/** The change that narrows the checks, if the request makes one; undefined when it makes none. */
export function narrowingChange(guard: NamespaceLabelGuard, request: AdmissionRequest): NamespaceLabelChange | undefined {
  const old = request.operation === 'UPDATE' ? request.oldObject : undefined;
  const changes: string[] = [];
  if (labelOf(request.object, guard.optOutLabel) === 'true' && labelOf(old, guard.optOutLabel) !== 'true') changes.push(`${guard.optOutLabel}=true set`);
  if (
    guard.optInLabel !== undefined &&
    request.operation === 'UPDATE' &&
    labelOf(old, guard.optInLabel) === 'true' &&
    labelOf(request.object, guard.optInLabel) !== 'true'
  ) {
    changes.push(`${guard.optInLabel}=true removed`);
  }
  if (changes.length === 0) return undefined;
  const user = request.userInfo?.username;
  const permitted = (user !== undefined && guard.users.has(user)) || (request.userInfo?.groups ?? []).some((g) => guard.groups.has(g));
  const editors = [guard.groups.size > 0 ? `groups ${[...guard.groups].join(', ')}` : '', guard.users.size > 0 ? `users ${[...guard.users].join(', ')}` : '']
    .filter((s) => s !== '')
    .join('; ');
  return { change: changes.join(' and '), requester: user ?? '(unknown user)', permitted, editors: editors || 'nobody' };
}
