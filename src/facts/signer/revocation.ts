// AWS Signer revocation: GetRevocationStatus with exactly the inputs AWS's Notation plugin
// sends, cached per input for the revocation TTL.
import { GetRevocationStatusCommand } from '@aws-sdk/client-signer';
import type { RevocationInput } from '../../notation/index.ts';
import type { FactCache, FactSpec } from '../../support/fact-cache.ts';
import { knownRegion } from '../../image/ecr-host.ts';
import type { AwsClients } from '../aws-clients.ts';
import { FactError, fromAwsError } from '../errors.ts';
import { ErrorCodes } from '../../support/errors.ts';

const PROFILE_ARN = /^arn:aws[a-z-]*:signer:([a-z0-9-]+):(\d{12}):/;

export class SignerRevocation {
  readonly #clients: AwsClients;
  readonly #cache: FactCache;
  readonly #spec: FactSpec<string[]>;

  constructor(options: { clients: AwsClients; cache: FactCache; ttlSeconds: number }) {
    this.#clients = options.clients;
    this.#cache = options.cache;
    this.#spec = { fact: 'revocation', ttlMs: () => options.ttlSeconds * 1000 };
  }

  /** Revoked entities among the input's profile version, job and certificates (empty: none). */
  revoked(input: RevocationInput, signal: AbortSignal, budgetMs: number): Promise<string[]> {
    const match = PROFILE_ARN.exec(input.profileVersionArn);
    if (!match)
      return Promise.reject(new FactError(ErrorCodes.AWS_ERROR, 'signer', 'GetRevocationStatus', `not a signing profile ARN: ${input.profileVersionArn}`));
    const [, region = '', account = ''] = match;
    // The ARN comes from a signature: a client is made only for a region AWS has.
    if (!knownRegion(region))
      return Promise.reject(
        new FactError(ErrorCodes.AWS_ERROR, 'signer', 'GetRevocationStatus', `signing profile ARN names no AWS region: ${input.profileVersionArn}`),
      );
    // JSON, not a joined string: the job ARN comes from the signature, and a "|" in it could
    // make one signature's key equal another's (attacker review of this round).
    const key = JSON.stringify([input.profileVersionArn, input.jobArn, input.signatureTimestamp.toISOString(), ...input.certificateHashes]);
    return this.#cache.get(
      this.#spec,
      key,
      async (loadSignal) => {
        try {
          const out = await this.#clients.signer(account, region).send(
            new GetRevocationStatusCommand({
              signatureTimestamp: input.signatureTimestamp,
              platformId: input.platformId,
              profileVersionArn: input.profileVersionArn,
              jobArn: input.jobArn,
              certificateHashes: input.certificateHashes,
            }),
            { abortSignal: loadSignal },
          );
          return out.revokedEntities ?? [];
        } catch (error) {
          throw fromAwsError(error, 'signer', 'GetRevocationStatus');
        }
      },
      signal,
      budgetMs,
    );
  }
}
