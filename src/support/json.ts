// Narrowing for untyped JSON and YAML (AdmissionReview bodies, Kubernetes objects).
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
