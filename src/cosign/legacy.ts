// cosign's older signature format, as a Sigstore bundle: a simple-signing layer (the signed
// payload) whose annotations carry the signature (base64), the Fulcio certificate and chain
// (PEM), and the Rekor bundle (signed entry timestamp and the entry) when the signature went to
// the transparency log. The same fields make a v0.1 bundle (message signature, inclusion
// promise), so @sigstore/verify verifies both formats and nothing here checks a signature.
import { createHash, X509Certificate } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { asRecord, boundedJson } from './json.ts';
import { ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN, ANNOTATION_SIGNATURE } from './types.ts';

const BUNDLE_V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
/** A signature is at most 1 KB in base64 (RSA 4096 is 684); a certificate a few KB of PEM. */
const MAX_SIGNATURE_B64 = 2048;
const MAX_PEM = 16 * 1024;
const MAX_CHAIN = 5;
const REKOR_BOUNDS = { maxBytes: 64 * 1024, maxDepth: 6, maxValues: 64 } as const;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export type LegacyBundle = { ok: true; bundle: Bundle } | { ok: false; reason: string };

/** PEM certificates, in order, as base64 DER; throws when one is not a certificate. */
function pemCertificates(pem: string, what: string): string[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0 || blocks.length > MAX_CHAIN) throw new Error(`${what} holds ${blocks.length} certificates`);
  return blocks.map((b) => Buffer.from(new X509Certificate(b).raw).toString('base64'));
}

/** The Rekor bundle annotation ({SignedEntryTimestamp, Payload: {body, integratedTime, logIndex, logID}}) as a v0.1 tlog entry. */
function tlogEntry(text: string): Record<string, unknown> {
  const json = boundedJson(Buffer.from(text, 'utf8'), REKOR_BOUNDS, `${ANNOTATION_BUNDLE} annotation`);
  if (!json.ok) throw new Error(json.reason);
  const rekor = asRecord(json.value);
  const payload = asRecord(rekor?.Payload);
  const set = rekor?.SignedEntryTimestamp;
  const { body, integratedTime, logIndex, logID } = payload ?? {};
  if (typeof set !== 'string' || !BASE64.test(set) || typeof body !== 'string' || !BASE64.test(body))
    throw new Error(`${ANNOTATION_BUNDLE} annotation has no base64 SignedEntryTimestamp and Payload.body`);
  if (!Number.isSafeInteger(integratedTime) || !Number.isSafeInteger(logIndex) || typeof logID !== 'string' || !/^[a-f0-9]{64}$/.test(logID))
    throw new Error(`${ANNOTATION_BUNDLE} annotation has no integratedTime, logIndex and hex logID`);
  const parsed = boundedJson(Buffer.from(body, 'base64'), { ...REKOR_BOUNDS, maxDepth: 10, maxValues: 256 }, 'Rekor entry body');
  if (!parsed.ok) throw new Error(parsed.reason);
  const entry = asRecord(parsed.value);
  if (typeof entry?.kind !== 'string' || typeof entry.apiVersion !== 'string') throw new Error('Rekor entry body names no kind and apiVersion');
  return {
    logIndex: String(logIndex),
    logId: { keyId: Buffer.from(logID, 'hex').toString('base64') },
    kindVersion: { kind: entry.kind, version: entry.apiVersion },
    integratedTime: String(integratedTime),
    inclusionPromise: { signedEntryTimestamp: set },
    canonicalizedBody: body,
  };
}

/** The bundle a simple-signing layer amounts to; the payload is the layer blob. */
export function legacyBundle(payload: Uint8Array, annotations: Readonly<Record<string, string>>): LegacyBundle {
  const signature = annotations[ANNOTATION_SIGNATURE];
  if (signature === undefined) return { ok: false, reason: `layer has no ${ANNOTATION_SIGNATURE} annotation` };
  if (signature.length > MAX_SIGNATURE_B64 || !BASE64.test(signature)) return { ok: false, reason: `${ANNOTATION_SIGNATURE} is not a base64 signature` };
  try {
    const certificate = annotations[ANNOTATION_CERTIFICATE];
    const chain = annotations[ANNOTATION_CHAIN];
    if ((certificate?.length ?? 0) > MAX_PEM || (chain?.length ?? 0) > MAX_PEM) return { ok: false, reason: 'certificate annotations are too large' };
    const certificates = certificate
      ? [...pemCertificates(certificate, ANNOTATION_CERTIFICATE), ...(chain ? pemCertificates(chain, ANNOTATION_CHAIN) : [])]
      : [];
    const rekor = annotations[ANNOTATION_BUNDLE];
    const json = {
      mediaType: BUNDLE_V01,
      verificationMaterial: {
        ...(certificates.length > 0 ? { x509CertificateChain: { certificates: certificates.map((rawBytes) => ({ rawBytes })) } } : { publicKey: { hint: '' } }),
        tlogEntries: rekor ? [tlogEntry(rekor)] : [],
      },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
        signature,
      },
    };
    return { ok: true, bundle: bundleFromJSON(json) };
  } catch (err) {
    return { ok: false, reason: `simple-signing layer cannot be read: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}` };
  }
}
