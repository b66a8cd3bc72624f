// AWS KMS, as much as ecr-admission uses (issue 19): GetPublicKey over the AWS JSON 1.1 protocol
// (X-Amz-Target: TrentService.GetPublicKey), for cosign authorities whose key is in KMS. The
// behaviour follows @aws-sdk/client-kms (GetPublicKeyCommand, GetPublicKeyRequest/Response in
// models_0.d.ts, the enums in enums.d.ts) and the API reference (API_GetPublicKey):
//  - KeyId is a key ID, key ARN, alias name ("alias/...") or alias ARN; another account's key
//    only by ARN; a key or alias of another region is not found;
//  - unknown keys and aliases: NotFoundException; a Disabled key: DisabledException; a key
//    pending deletion (or otherwise not usable): KMSInvalidStateException; a symmetric key has
//    no public key: UnsupportedOperationException;
//  - the answer: KeyId (always the key ARN), PublicKey (DER SubjectPublicKeyInfo, base64 on the
//    wire), KeySpec and the deprecated CustomerMasterKeySpec, KeyUsage, SigningAlgorithms.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Runtime } from './context.ts';
import type { KmsKeyFixture } from './fixture.ts';
import { SandboxFixtureError } from './store.ts';
import { callerAccount } from './sts.ts';
import { ApiError, json, parseJsonBody, requireScope, type Outgoing } from './wire.ts';

export const KMS_TARGET_PREFIX = 'TrentService.';
const JSON11 = 'application/x-amz-json-1.1';
const KEY_ARN = /^arn:(aws|aws-cn|aws-us-gov):kms:([a-z0-9-]+):(\d{12}):key\/([A-Za-z0-9-]{1,64})$/;
const ALIAS_ARN = /^arn:(aws|aws-cn|aws-us-gov):kms:([a-z0-9-]+):(\d{12}):(alias\/[A-Za-z0-9/_-]{1,250})$/;

interface CompiledKey {
  readonly fixture: KmsKeyFixture;
  readonly region: string;
  readonly account: string;
  readonly id: string;
  readonly publicKey?: KeyObject;
  readonly keySpec: string;
  readonly signingAlgorithms: string[];
}

/** KeySpec and SigningAlgorithms of an asymmetric signing key (enums.d.ts KeySpec, SigningAlgorithmSpec). */
function specOf(key: KeyObject): { keySpec: string; signingAlgorithms: string[] } {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const byCurve: Record<string, [string, string]> = {
      prime256v1: ['ECC_NIST_P256', 'ECDSA_SHA_256'],
      secp384r1: ['ECC_NIST_P384', 'ECDSA_SHA_384'],
      secp521r1: ['ECC_NIST_P521', 'ECDSA_SHA_512'],
      secp256k1: ['ECC_SECG_P256K1', 'ECDSA_SHA_256'],
    };
    const spec = byCurve[d.namedCurve ?? ''];
    if (spec) return { keySpec: spec[0], signingAlgorithms: [spec[1]] };
  }
  if (key.asymmetricKeyType === 'rsa' && [2048, 3072, 4096].includes(d.modulusLength ?? 0)) {
    const sizes = ['256', '384', '512'];
    return {
      keySpec: `RSA_${d.modulusLength}`,
      signingAlgorithms: [...sizes.map((s) => `RSASSA_PSS_SHA_${s}`), ...sizes.map((s) => `RSASSA_PKCS1_V1_5_SHA_${s}`)],
    };
  }
  if (key.asymmetricKeyType === 'ed25519') return { keySpec: 'ECC_NIST_EDWARDS25519', signingAlgorithms: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'] };
  throw new SandboxFixtureError(`kms: a ${key.asymmetricKeyType ?? 'unknown'} key of these parameters is no KMS key spec`);
}

const compiled = new WeakMap<readonly KmsKeyFixture[], CompiledKey[]>();

/** The fixture's keys, checked once per fixture: a key KMS could not hold is a fixture error. */
function keysOf(fixtures: readonly KmsKeyFixture[]): CompiledKey[] {
  let keys = compiled.get(fixtures);
  if (keys) return keys;
  keys = fixtures.map((f) => {
    const m = KEY_ARN.exec(f.arn);
    if (!m) throw new SandboxFixtureError(`kms: '${f.arn}' is not a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)`);
    for (const alias of f.aliases ?? [])
      if (!/^alias\/[A-Za-z0-9/_-]{1,250}$/.test(alias) || alias.startsWith('alias/aws/'))
        throw new SandboxFixtureError(`kms: '${alias}' is not a customer alias name`);
    if (f.publicKeyPem === undefined) return { fixture: f, region: m[2]!, account: m[3]!, id: m[4]!, keySpec: 'SYMMETRIC_DEFAULT', signingAlgorithms: [] };
    const publicKey = createPublicKey({ key: f.publicKeyPem, format: 'pem' });
    return { fixture: f, region: m[2]!, account: m[3]!, id: m[4]!, publicKey, ...specOf(publicKey) };
  });
  compiled.set(fixtures, keys);
  return keys;
}

/** The key KeyId names, as KMS resolves it for a caller in `account` and `region`. */
function resolve(keys: CompiledKey[], keyId: string, account: string, region: string): CompiledKey {
  const arnOf = (k: CompiledKey) => k.fixture.arn;
  let key: CompiledKey | undefined;
  const keyArn = KEY_ARN.exec(keyId);
  const aliasArn = ALIAS_ARN.exec(keyId);
  if (keyArn) key = keys.find((k) => arnOf(k) === keyId && k.region === region);
  else if (aliasArn) {
    key = keys.find((k) => k.account === aliasArn[3] && k.region === region && aliasArn[2] === region && (k.fixture.aliases ?? []).includes(aliasArn[4]!));
    if (!key) throw new ApiError(400, 'NotFoundException', `Alias ${keyId} is not found.`);
  } else if (keyId.startsWith('alias/')) {
    key = keys.find((k) => k.account === account && k.region === region && (k.fixture.aliases ?? []).includes(keyId));
    if (!key) throw new ApiError(400, 'NotFoundException', `Alias arn:aws:kms:${region}:${account}:${keyId} is not found.`);
  } else if (keyId.startsWith('arn:')) {
    throw new ApiError(400, 'InvalidArnException', `Invalid arn ${keyId}`);
  } else key = keys.find((k) => k.id === keyId && k.account === account && k.region === region);
  if (!key) {
    const arn = keyArn ? keyId : `arn:aws:kms:${region}:${account}:key/${keyId}`;
    throw new ApiError(400, 'NotFoundException', `Key '${arn}' does not exist`);
  }
  return key;
}

export function kmsOperationName(target: string): string {
  return target.slice(KMS_TARGET_PREFIX.length);
}

export function handleKms(op: string, authorization: string | undefined, body: Buffer, rt: Runtime): Outgoing {
  const scope = requireScope(authorization, 'kms');
  if (op !== 'GetPublicKey') throw new ApiError(400, 'UnknownOperationException', `the sandbox's KMS does not implement ${op}`);
  const input = parseJsonBody(body, 'SerializationException');
  const keyId = input.KeyId;
  // GetPublicKeyRequest.KeyId: required, 1 to 2048 characters (the API reference's constraints).
  if (typeof keyId !== 'string' || keyId.length < 1 || keyId.length > 2048)
    throw new ApiError(
      400,
      'ValidationException',
      "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048",
    );
  const fixture = rt.state().fixture;
  const key = resolve(keysOf(fixture.kms?.keys ?? []), keyId, callerAccount(scope.accessKeyId, fixture.defaultAccount), scope.region);
  const arn = key.fixture.arn;
  const state = key.fixture.keyState ?? 'Enabled';
  if (state === 'Disabled') throw new ApiError(400, 'DisabledException', `${arn} is disabled.`);
  if (state !== 'Enabled') throw new ApiError(400, 'KMSInvalidStateException', `${arn} is ${state === 'PendingDeletion' ? 'pending deletion' : state}.`);
  if (!key.publicKey) throw new ApiError(400, 'UnsupportedOperationException', `${arn} key usage is ENCRYPT_DECRYPT which is not valid for GetPublicKey.`);
  const usage = key.fixture.keyUsage ?? 'SIGN_VERIFY';
  return json(
    200,
    {
      KeyId: arn,
      PublicKey: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      KeyUsage: usage,
      ...(usage === 'SIGN_VERIFY' ? { SigningAlgorithms: key.signingAlgorithms } : { EncryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] }),
    },
    JSON11,
  );
}
