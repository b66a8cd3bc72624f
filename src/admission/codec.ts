// admission.k8s.io/v1 AdmissionReview: the subset we read, validated by hand so that a body
// of any shape yields either a typed request or a clear 400 reason, never an exception.
import { isObject } from '../support/json.ts';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: string;
  dryRun?: boolean;
  object?: unknown;
  oldObject?: unknown;
  /** Who asks: the username, and the groups when they are a bounded list of strings (the
   *  namespace-label guard admits by group; a malformed list counts as no group). */
  userInfo?: { username?: string; groups?: readonly string[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
  /** The mutating webhook's answer (mutate.ts): base64 of an RFC 6902 JSON Patch. */
  patchType?: 'JSONPatch';
  patch?: string;
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export type ParsedReview = { ok: true; request: AdmissionRequest } | { ok: false; reason: string };

const optionalString = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';

export function parseAdmissionReview(body: unknown): ParsedReview {
  if (!isObject(body)) return { ok: false, reason: 'body is not a JSON object' };
  if (body.apiVersion !== 'admission.k8s.io/v1') {
    // Only a string is quoted back: stringifying any JSON value would recurse through a body
    // nested half a million deep and overflow the stack (a 500 instead of this 400).
    const got =
      typeof body.apiVersion === 'string'
        ? JSON.stringify(body.apiVersion.slice(0, 60))
        : `a value of type ${Array.isArray(body.apiVersion) ? 'array' : typeof body.apiVersion}`;
    return { ok: false, reason: `apiVersion must be admission.k8s.io/v1, got ${got}` };
  }
  if (body.kind !== 'AdmissionReview') return { ok: false, reason: 'kind must be AdmissionReview' };
  const r = body.request;
  if (!isObject(r)) return { ok: false, reason: 'request is missing or not an object' };
  if (typeof r.uid !== 'string' || r.uid.length === 0 || r.uid.length > 128)
    return { ok: false, reason: 'request.uid must be a non-empty string of at most 128 characters' };
  if (typeof r.operation !== 'string') return { ok: false, reason: 'request.operation must be a string' };
  const kind = r.kind;
  if (!isObject(kind) || typeof kind.kind !== 'string' || typeof kind.version !== 'string' || !optionalString(kind.group)) {
    return { ok: false, reason: 'request.kind must be {group, version, kind}' };
  }
  if (!optionalString(r.name) || !optionalString(r.namespace) || !optionalString(r.subResource)) {
    return { ok: false, reason: 'request.name, namespace and subResource must be strings' };
  }
  if (r.dryRun !== undefined && typeof r.dryRun !== 'boolean') return { ok: false, reason: 'request.dryRun must be a boolean' };
  // Strings only: String() of a deeply nested array recurses through Array#join.
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  const resource =
    isObject(r.resource) && typeof r.resource.resource === 'string'
      ? { group: text(r.resource.group), version: text(r.resource.version), resource: r.resource.resource }
      : undefined;
  const userInfo = isObject(r.userInfo) ? userInfoOf(r.userInfo) : undefined;
  return {
    ok: true,
    request: {
      uid: r.uid,
      kind: { group: kind.group ?? '', version: kind.version, kind: kind.kind },
      operation: r.operation,
      ...(resource && { resource }),
      ...(typeof r.subResource === 'string' && r.subResource !== '' && { subResource: r.subResource }),
      ...(typeof r.name === 'string' && { name: r.name }),
      ...(typeof r.namespace === 'string' && { namespace: r.namespace }),
      ...(r.dryRun === true && { dryRun: true }),
      ...(r.object !== undefined && r.object !== null && { object: r.object }),
      ...(r.oldObject !== undefined && r.oldObject !== null && { oldObject: r.oldObject }),
      ...(userInfo && { userInfo }),
    },
  };
}

/** At most this many groups, each at most GROUP_MAX characters, are read from userInfo. */
export const GROUPS_MAX = 256;
const GROUP_MAX = 1024;

function userInfoOf(u: Record<string, unknown>): AdmissionRequest['userInfo'] | undefined {
  const username = typeof u.username === 'string' ? u.username : undefined;
  const groups =
    Array.isArray(u.groups) && u.groups.length <= GROUPS_MAX && u.groups.every((g) => typeof g === 'string' && g.length <= GROUP_MAX)
      ? (u.groups as string[])
      : undefined;
  if (username === undefined && groups === undefined) return undefined;
  return { ...(username !== undefined && { username }), ...(groups !== undefined && { groups }) };
}

export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
