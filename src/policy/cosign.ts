// checks.signature.cosign compiled when the policy loads (issue 19): PEM keys read and checked
// (kind and size cosign signs with), identity patterns compiled (anchored both ends), the
// trusted root read, and a canonical text of all of it for the verdict cache key. A KMS key's
// public key is not read here (policy/ makes no AWS call): it is fetched once, at the first
// admission that needs it, and cached (facts/kms/public-keys.ts).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CosignAuthorityConfig, CosignConfig } from './schema.ts';
import { errorMessage } from '../support/errors.ts';
import { exactMatcher, loadTrustedRoot, parsePublicKey, regexMatcher, type KeyAuthority, type KeylessAuthority, type Matcher } from '../cosign/index.ts';
import type { TrustMaterial } from '@sigstore/verify';

/** A KMS authority: its key is known only once GetPublicKey has answered. */
export interface KmsAuthority {
  readonly kind: 'kms';
  readonly name: string;
  readonly arn: string;
  readonly region: string;
  readonly describe: string;
}

export type CompiledCosignAuthority = KeyAuthority | KeylessAuthority | KmsAuthority;

export interface CompiledCosign {
  readonly authorities: readonly CompiledCosignAuthority[];
  readonly trustMaterial?: TrustMaterial;
  /** Canonical text of every setting that can change a verdict (key fingerprints, ARNs,
   *  patterns, the trusted root's hash), for the verdict cache key. */
  readonly canonical: string;
  /** A `cosign sign` command that would satisfy the first authority, for denial hints. */
  readonly signHint: string;
}

export interface CosignProblem {
  readonly at: Array<string | number>;
  readonly message: string;
}

function matcherOf(
  exact: string | undefined,
  regex: string | undefined,
  what: string,
  at: Array<string | number>,
  problems: CosignProblem[],
): Matcher | undefined {
  if ((exact === undefined) === (regex === undefined)) {
    problems.push({ at, message: `keyless needs exactly one of ${what} and ${what}RegExp` });
    return undefined;
  }
  if (exact !== undefined) return exactMatcher(exact);
  try {
    return regexMatcher(regex!);
  } catch (err) {
    problems.push({ at: [...at, `${what}RegExp`], message: errorMessage(err) });
    return undefined;
  }
}

function compileAuthority(a: CosignAuthorityConfig, i: number, problems: CosignProblem[]): CompiledCosignAuthority | undefined {
  const at = ['authorities', i];
  const name = a.name ?? `authority ${i + 1}`;
  const kinds = (['key', 'kms', 'keyless'] as const).filter((k) => a[k] !== undefined);
  if (kinds.length !== 1) {
    problems.push({ at, message: `an authority is exactly one of key, kms, keyless (this one has ${kinds.length === 0 ? 'none' : kinds.join(' and ')})` });
    return undefined;
  }
  if (a.kms !== undefined) {
    const region = a.kms.split(':')[3]!;
    return { kind: 'kms', name, arn: a.kms, region, describe: `kms ${a.kms}` };
  }
  if (a.key !== undefined) {
    const { file, pem } = a.key;
    if ((file === undefined) === (pem === undefined)) {
      problems.push({ at: [...at, 'key'], message: 'key needs exactly one of file and pem' });
      return undefined;
    }
    try {
      const text = file !== undefined ? readFileSync(file, 'utf8') : pem!;
      const { key, kind } = parsePublicKey(text);
      return { kind: 'key', name, key, describe: `key ${file ?? 'pem'} (${kind})` };
    } catch (err) {
      problems.push({
        at: [...at, 'key', file !== undefined ? 'file' : 'pem'],
        message: file !== undefined ? `${file}: ${errorMessage(err)}` : errorMessage(err),
      });
      return undefined;
    }
  }
  const k = a.keyless!;
  const issuer = matcherOf(k.issuer, k.issuerRegExp, 'issuer', [...at, 'keyless'], problems);
  const subject = matcherOf(k.subject, k.subjectRegExp, 'subject', [...at, 'keyless'], problems);
  if (!issuer || !subject) return undefined;
  return { kind: 'keyless', name, issuer, subject, describe: `keyless ${subject.text} from ${issuer.text}` };
}

function canonicalOf(a: CompiledCosignAuthority): unknown {
  switch (a.kind) {
    case 'key':
      return {
        key: createHash('sha256')
          .update(a.key.export({ type: 'spki', format: 'der' }))
          .digest('hex'),
      };
    case 'kms':
      return { kms: a.arn };
    case 'keyless':
      return { issuer: a.issuer.text, subject: a.subject.text };
  }
}

/** The cosign sign command for an authority (what the denial suggests). */
export function signCommand(a: CompiledCosignAuthority): string {
  switch (a.kind) {
    case 'key':
      return 'cosign sign --key <private key matching this public key> <image>@<digest>';
    case 'kms':
      return `cosign sign --key awskms:///${a.arn} <image>@<digest>`;
    case 'keyless':
      return `cosign sign <image>@<digest> from an OIDC identity ${a.subject.text} issued by ${a.issuer.text}`;
  }
}

export function compileCosign(config: CosignConfig): { cosign?: CompiledCosign; problems: CosignProblem[] } {
  const problems: CosignProblem[] = [];
  const authorities = config.authorities.map((a, i) => compileAuthority(a, i, problems));
  let trustMaterial: TrustMaterial | undefined;
  let rootHash = '';
  if (config.trustedRoot !== undefined) {
    try {
      trustMaterial = loadTrustedRoot(config.trustedRoot).material;
      rootHash = createHash('sha256').update(readFileSync(config.trustedRoot)).digest('hex');
    } catch (err) {
      problems.push({ at: ['trustedRoot'], message: errorMessage(err) });
    }
  } else if (config.authorities.some((a) => a.keyless !== undefined)) {
    problems.push({ at: ['trustedRoot'], message: 'keyless authorities need a Sigstore trusted root (the chart mounts the public-good one)' });
  }
  if (problems.length > 0) return { problems };
  const compiled = authorities as CompiledCosignAuthority[];
  const names = new Set<string>();
  compiled.forEach((a, i) => {
    if (names.has(a.name)) problems.push({ at: ['authorities', i, 'name'], message: `authority name "${a.name}" is used twice` });
    names.add(a.name);
  });
  if (problems.length > 0) return { problems };
  return {
    cosign: Object.freeze({
      authorities: Object.freeze(compiled),
      ...(trustMaterial && { trustMaterial }),
      canonical: JSON.stringify({ authorities: compiled.map(canonicalOf), root: rootHash }),
      signHint: signCommand(compiled[0]!),
    }),
    problems,
  };
}

/** Files a cosign block reads: a change to one is a reason to reload the policy. */
export function cosignPaths(config: CosignConfig | undefined): string[] {
  if (!config) return [];
  return [
    ...config.authorities.flatMap((a) => (a.key?.file !== undefined ? [a.key.file] : [])),
    ...(config.trustedRoot !== undefined ? [config.trustedRoot] : []),
  ];
}
