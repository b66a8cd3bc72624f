// Hostile referrers anyone who can push to an allowed repository can hang on an image:
// floods of 4 MiB envelopes, COSE and JWS bombs, junk artifacts, and referrers whose
// manifests lie about their envelope. Shared by the referrer hardening tests (not a test file).
import { imageDescriptor, ociImage, type ImageFixture, type SignatureFixture } from '../../src/dev/sandbox/index.ts';

export const MiB = 1024 * 1024;

/** A COSE_Sign1-tagged CBOR array of `bytes` empty arrays: the decoder's item-count bomb. */
export function coseBomb(bytes: number): Buffer {
  const n = bytes - 6;
  const head = Buffer.from([0xd2, 0x9a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  return Buffer.concat([head, Buffer.alloc(n, 0x80)]);
}

/** A JWS whose unprotected header holds `bytes` worth of empty arrays: JSON.parse's bomb. */
export function jwsBomb(bytes: number): Buffer {
  const open = '{"payload":"e30","protected":"e30","header":{"x5c":[';
  const close = ']},"signature":"AAAA"}';
  const count = Math.floor((bytes - open.length - close.length) / 3);
  return Buffer.from(`${open}${'[],'.repeat(count)}[]${close}`);
}

/** `count` referrers that all carry `envelope` (one blob in the sandbox, distinct manifests). */
export function referrersOf(envelope: Buffer, count: number, mediaType: 'application/cose' | 'application/jose+json'): SignatureFixture[] {
  return Array.from({ length: count }, (_, i) => ({ envelope, envelopeMediaType: mediaType, annotations: { 'test.referrer': String(i) } }));
}

/** Artifacts of another type (an SBOM, say) that refer to `target`. */
export function junkArtifacts(target: ImageFixture, count: number): ImageFixture[] {
  const subject = imageDescriptor(target);
  return Array.from({ length: count }, (_, i) => ociImage({ seed: `junk-${i}`, artifactType: 'application/vnd.example.sbom.v1+json', subject }));
}
