// Produces real Notary Project signature envelopes (JWS and COSE_Sign1), optionally with
// AWS Signer's extended attributes, for our tests and the `demo` command. The same
// layouts as signature-envelope-jws.md and signature-envelope-cose.md; real crypto.
import type { KeyObject } from 'node:crypto';
import { algorithmForKey, COSE_ALGORITHM_IDS, signBytes, type SignatureAlgorithm } from '../../notation/algorithms.ts';
import { CborTag, encodeCbor, type CborKey, type CborValue } from '../../notation/cbor.ts';
import { COSE_SIGN1_TAG, coseSign1ToBeSigned, LABEL_ALG, LABEL_CONTENT_TYPE, LABEL_CRIT, LABEL_X5CHAIN, TAG_EPOCH_TIME } from '../../notation/cose.ts';
import { ATTR_SIGNING_JOB, ATTR_SIGNING_PROFILE_VERSION, AWS_SIGNER_PLUGIN } from '../../notation/critical.ts';
import { encodeBase64Url, formatRfc3339 } from '../../notation/encoding.ts';
import {
  HEADER_AUTHENTIC_SIGNING_TIME,
  HEADER_EXPIRY,
  HEADER_SIGNING_SCHEME,
  HEADER_SIGNING_TIME,
  HEADER_VERIFICATION_PLUGIN,
  HEADER_VERIFICATION_PLUGIN_MIN_VERSION,
} from '../../notation/envelope.ts';
import {
  MEDIA_TYPE_COSE,
  MEDIA_TYPE_JWS,
  MEDIA_TYPE_PAYLOAD,
  SIGNING_SCHEME_SIGNING_AUTHORITY,
  SIGNING_SCHEME_X509,
  type SigningScheme,
  type TargetDescriptor,
} from '../../notation/types.ts';

/** A signed attribute to add: a string, or a time (encoded per format). */
export interface ExtraAttribute {
  value: string | Date;
  critical?: boolean;
}

export interface SignRequest {
  format: 'jws' | 'cose';
  target: TargetDescriptor & { annotations?: Record<string, string> };
  /** DER certificates, leaf first. */
  certificates: Uint8Array[];
  privateKey: KeyObject;
  /** Defaults to the algorithm the key requires. */
  alg?: SignatureAlgorithm;
  /** Defaults to signingAuthority when `aws` is given, else notary.x509. */
  signingScheme?: SigningScheme;
  /** signingTime or authenticSigningTime, by scheme; default now. */
  signingTime?: Date;
  expiry?: Date;
  /** AWS Signer's attributes and its critical verification-plugin header. */
  aws?: { profileVersionArn: string; jobArn: string; pluginName?: string; pluginMinVersion?: string };
  extraAttributes?: Record<string, ExtraAttribute>;
  signingAgent?: string;
}

export interface SignedEnvelope {
  envelope: Uint8Array;
  mediaType: typeof MEDIA_TYPE_JWS | typeof MEDIA_TYPE_COSE;
}

interface Attribute {
  name: string;
  value: string | Date;
  critical: boolean;
}

function signedAttributes(req: SignRequest): { scheme: SigningScheme; attributes: Attribute[] } {
  const scheme = req.signingScheme ?? (req.aws ? SIGNING_SCHEME_SIGNING_AUTHORITY : SIGNING_SCHEME_X509);
  const time = req.signingTime ?? new Date();
  const attributes: Attribute[] = [{ name: HEADER_SIGNING_SCHEME, value: scheme, critical: true }];
  attributes.push(
    scheme === SIGNING_SCHEME_SIGNING_AUTHORITY
      ? { name: HEADER_AUTHENTIC_SIGNING_TIME, value: time, critical: true }
      : { name: HEADER_SIGNING_TIME, value: time, critical: false },
  );
  if (req.expiry) attributes.push({ name: HEADER_EXPIRY, value: req.expiry, critical: true });
  if (req.aws) {
    attributes.push(
      { name: HEADER_VERIFICATION_PLUGIN, value: req.aws.pluginName ?? AWS_SIGNER_PLUGIN, critical: true },
      { name: ATTR_SIGNING_PROFILE_VERSION, value: req.aws.profileVersionArn, critical: true },
      { name: ATTR_SIGNING_JOB, value: req.aws.jobArn, critical: true },
    );
    if (req.aws.pluginMinVersion) {
      attributes.push({ name: HEADER_VERIFICATION_PLUGIN_MIN_VERSION, value: req.aws.pluginMinVersion, critical: true });
    }
  }
  for (const [name, extra] of Object.entries(req.extraAttributes ?? {})) {
    attributes.push({ name, value: extra.value, critical: extra.critical ?? false });
  }
  return { scheme, attributes };
}

function chooseAlgorithm(req: SignRequest): SignatureAlgorithm {
  if (req.alg) return req.alg;
  const spec = algorithmForKey(req.privateKey);
  if ('error' in spec) throw new TypeError(`cannot sign with this key: ${spec.error}`);
  return spec.alg;
}

function payloadBytes(target: SignRequest['target']): Uint8Array {
  const { mediaType, digest, size, annotations } = target;
  return Buffer.from(JSON.stringify({ targetArtifact: { mediaType, digest, size, ...(annotations && { annotations }) } }));
}

function signJws(req: SignRequest, alg: SignatureAlgorithm, attributes: Attribute[]): Uint8Array {
  const header: Record<string, unknown> = {
    alg,
    cty: MEDIA_TYPE_PAYLOAD,
    crit: attributes.filter((a) => a.critical).map((a) => a.name),
  };
  for (const a of attributes) header[a.name] = a.value instanceof Date ? formatRfc3339(a.value) : a.value;
  const protectedB64 = encodeBase64Url(Buffer.from(JSON.stringify(header)));
  const payloadB64 = encodeBase64Url(payloadBytes(req.target));
  const signature = signBytes(alg, req.privateKey, Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii'));
  const envelope = {
    payload: payloadB64,
    protected: protectedB64,
    header: {
      x5c: req.certificates.map((c) => Buffer.from(c).toString('base64')),
      ...(req.signingAgent && { 'io.cncf.notary.signingAgent': req.signingAgent }),
    },
    signature: encodeBase64Url(signature),
  };
  return Buffer.from(JSON.stringify(envelope));
}

function signCose(req: SignRequest, alg: SignatureAlgorithm, attributes: Attribute[]): Uint8Array {
  const prot = new Map<CborKey, CborValue>([
    [LABEL_ALG, COSE_ALGORITHM_IDS[alg]],
    [LABEL_CRIT, attributes.filter((a) => a.critical).map((a) => a.name)],
    [LABEL_CONTENT_TYPE, MEDIA_TYPE_PAYLOAD],
  ]);
  for (const a of attributes) {
    prot.set(a.name, a.value instanceof Date ? new CborTag(TAG_EPOCH_TIME, Math.floor(a.value.getTime() / 1000)) : a.value);
  }
  const protectedBytes = encodeCbor(prot);
  const payload = payloadBytes(req.target);
  const signature = signBytes(alg, req.privateKey, coseSign1ToBeSigned(protectedBytes, payload));
  const unprotected = new Map<CborKey, CborValue>([[LABEL_X5CHAIN, req.certificates]]);
  if (req.signingAgent) unprotected.set('io.cncf.notary.signingAgent', req.signingAgent);
  return encodeCbor(new CborTag(COSE_SIGN1_TAG, [protectedBytes, unprotected, payload, signature]));
}

export function signEnvelope(req: SignRequest): SignedEnvelope {
  const alg = chooseAlgorithm(req);
  const { attributes } = signedAttributes(req);
  return req.format === 'jws'
    ? { envelope: signJws(req, alg, attributes), mediaType: MEDIA_TYPE_JWS }
    : { envelope: signCose(req, alg, attributes), mediaType: MEDIA_TYPE_COSE };
}
