// Digests and the names that go into registry URLs. Only sha256 is accepted: it is what
// ECR, Notation and every registry in use produce, and a client that accepts an algorithm
// it does not verify would be trusting the registry's word.
const SHA256 = /^sha256:[a-f0-9]{64}$/;
// distribution-spec: path components of lower-case alphanumerics with . _ __ -+ separators.
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export const isDigest = (s: string): boolean => SHA256.test(s);
export const isRepositoryName = (s: string): boolean => s.length <= 255 && REPOSITORY.test(s);
export const isTag = (s: string): boolean => TAG.test(s);

/** The referrers tag schema: sha256:<hex> is tagged sha256-<hex> (OCI distribution 1.1). */
export function referrersTag(digest: string): string {
  const [algorithm = '', hex = ''] = digest.split(':');
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`;
}
