// The public keys of cosign authorities kept in AWS KMS (cosign sign --key awskms:///ARN),
// read with GetPublicKey once and cached: a key id's public key never changes (an alias can be
// moved to another key, so an alias is asked again when the digest TTL passes). The key must be
// a signing key (KeyUsage SIGN_VERIFY) of a kind cosign signs with (cosign/keys.ts).
import type { KeyObject } from 'node:crypto';
import { GetPublicKeyCommand } from '@aws-sdk/client-kms';
import type { AwsClients } from '../aws-clients.ts';
import { FactError, fromAwsError } from '../errors.ts';
import type { FactCache, FactSpec } from '../../support/fact-cache.ts';
import { ErrorCodes } from '../../support/errors.ts';
import { parsePublicKey } from '../../cosign/index.ts';

export interface KmsPublicKey {
  readonly key: KeyObject;
  /** "ecdsa P-256", "rsa 3072" ... */
  readonly kind: string;
}

export interface KmsPublicKeysOptions {
  readonly clients: AwsClients;
  readonly cache: FactCache;
  /** How long a key is kept (the policy's digest TTL), in seconds. */
  readonly ttlSeconds: number;
}

export class KmsPublicKeys {
  readonly #options: KmsPublicKeysOptions;
  readonly #spec: FactSpec<KmsPublicKey>;

  constructor(options: KmsPublicKeysOptions) {
    this.#options = options;
    this.#spec = { fact: 'kms-public-key', ttlMs: () => options.ttlSeconds * 1000 };
  }

  /** The public key of `arn` (a key or alias ARN in `region`). AWS failures are FactErrors
   *  (not definitive: the verdict is then undecided, for onError). */
  async get(arn: string, region: string, signal: AbortSignal, budgetMs: number): Promise<KmsPublicKey> {
    return this.#options.cache.get(this.#spec, arn, (s) => this.#load(arn, region, s), signal, budgetMs);
  }

  async #load(arn: string, region: string, signal: AbortSignal): Promise<KmsPublicKey> {
    let out;
    try {
      out = await this.#options.clients.kms(region).send(new GetPublicKeyCommand({ KeyId: arn }), { abortSignal: signal });
    } catch (error) {
      throw fromAwsError(error, 'kms', 'GetPublicKey');
    }
    // KeyUsage and the key's DER (GetPublicKeyResponse in @aws-sdk/client-kms's model).
    if (out.KeyUsage !== 'SIGN_VERIFY' || !out.PublicKey)
      throw new FactError(ErrorCodes.AWS_ERROR, 'kms', 'GetPublicKey', `${arn} is not a signing key (KeyUsage ${out.KeyUsage ?? 'none'})`);
    try {
      return parsePublicKey(out.PublicKey);
    } catch (err) {
      throw new FactError(ErrorCodes.AWS_ERROR, 'kms', 'GetPublicKey', `${arn}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
