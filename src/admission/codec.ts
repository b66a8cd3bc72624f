// admission.k8s.io/v1 AdmissionReview: the subset we read, validated by hand so that a body
// of any shape yields either a typed request or a clear 400 reason, never an exception.
import { isObject } from '../support/json.ts';

export interface GroupVersionKind { group: string; version: string; kind: string }

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
  userInfo?: { username?: string };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
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
    const got = typeof body.apiVersion === 'string' ? JSON.stringify(body.apiVersion.slice(0, 60)) : `a value of type ${Array.isArray(body.apiVersion) ? 'array' : typeof body.apiVersion}`;
    return { ok: false, reason: `apiVersion must be admission.k8s.io/v1, got ${got}` };
  }
  if (body.kind !== 'AdmissionReview') return { ok: false, reason: 'kind must be AdmissionReview' };
  const r = body.request;
  if (!isObject(r)) return { ok: false, reason: 'request is missing or not an object' };
  if (typeof r.uid !== 'string' || r.uid.length === 0 || r.uid.length > 128) return { ok: false, reason: 'request.uid must be a non-empty string of at most 128 characters' };
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
  const resource = isObject(r.resource) && typeof r.resource.resource === 'string'
    ? { group: text(r.resource.group), version: text(r.resource.version), resource: r.resource.resource }
    : undefined;
  const userInfo = isObject(r.userInfo) && typeof r.userInfo.username === 'string' ? { username: r.userInfo.username } : undefined;
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

export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
