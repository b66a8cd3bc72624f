/** "sha256:3c4c1f42a89e": enough of a digest to recognise it in a message. */
export function shortDigest(digest: string): string {
  const [algorithm, hex = ''] = digest.split(':');
  return `${algorithm}:${hex.slice(0, 12)}`;
}
