// What the webhook's certificate Secret should hold next, as a pure function of what it holds
// now, the caBundle the API server has, and the clock. Every replica runs it on the same
// Secret and writes the result with optimistic concurrency, so replicas agree on one CA.
//
// A CA never changes in one step, because a caBundle that does not yet trust a served
// certificate fails every call (and the API server's informers, one per API server, see a
// webhook configuration change a moment after it is made):
//   1. stage:   a next CA is made and kept beside the active one; the bundle holds both.
//   2. publish: once the webhook configuration's caBundle is seen holding the next CA, the time
//               is recorded.
//   3. promote: `promoteAfterMs` later the next CA becomes active and signs a new serving
//               certificate; the old CA stays in the bundle as `previous`.
//   4. retire:  `retireAfterMs` after promotion (every replica re-reads the Secret every few
//               seconds, and one serving an old certificate marks itself unready), it is dropped.
// Serving certificates are renewed under the same CA with no bundle change.
import { X509Certificate } from 'node:crypto';
import type { CertificateAuthority } from './self-signed.ts';
import type { KeyPair } from './tls.ts';

export interface CertificateState {
  /** Signs the serving certificate. */
  readonly ca?: CertificateAuthority;
  readonly serving?: KeyPair;
  /** Staged: in the bundle, not yet signing. publishedAt: when the live caBundle was seen holding it. */
  readonly next?: CertificateAuthority & { readonly stagedAt: number; readonly publishedAt?: number };
  /** Replaced: still in the bundle until retireAt, for replicas still serving its certificate. */
  readonly previous?: { readonly cert: string; readonly retireAt: number };
  /** An operator asked for a new CA (Secret annotation), e.g. after a suspected key leak. */
  readonly rotateRequested?: boolean;
}

export interface CertificateSettings {
  readonly hosts: readonly string[];
  readonly caValidityMs: number;
  /** The CA is staged for replacement when less than this remains. */
  readonly caRenewBeforeMs: number;
  readonly servingValidityMs: number;
  /** The serving certificate is renewed when less than this remains. */
  readonly servingRenewBeforeMs: number;
  readonly promoteAfterMs: number;
  readonly retireAfterMs: number;
}

export const DAY_MS = 86_400_000;

export const DEFAULT_CERTIFICATE_SETTINGS: Omit<CertificateSettings, 'hosts'> = {
  caValidityMs: 365 * DAY_MS,
  caRenewBeforeMs: 90 * DAY_MS,
  servingValidityMs: 90 * DAY_MS,
  servingRenewBeforeMs: 30 * DAY_MS,
  promoteAfterMs: 60_000,
  retireAfterMs: 3_600_000,
};

/** Makes keys and certificates (self-signed.ts in the product). */
export interface Minter {
  ca(notBefore: Date, notAfter: Date): Promise<CertificateAuthority>;
  serving(ca: CertificateAuthority, hosts: readonly string[], notBefore: Date, notAfter: Date): Promise<KeyPair>;
}

/** Settings under which a CA is always replaced before its serving certificates need it. */
export function checkSettings(s: CertificateSettings): string | undefined {
  if (s.hosts.length === 0) return 'no host names for the serving certificate';
  if (s.servingRenewBeforeMs >= s.servingValidityMs) return 'serving renewBefore must be shorter than its validity';
  if (s.caRenewBeforeMs >= s.caValidityMs) return 'CA renewBefore must be shorter than its validity';
  // Staging, publishing and promoting take promoteAfterMs plus a few polls; until then the
  // serving certificate is capped at the CA's end and must not reach its own renewal window.
  if (s.caRenewBeforeMs <= s.servingRenewBeforeMs + s.promoteAfterMs) return 'CA renewBefore must exceed the serving renewBefore plus promoteAfter';
  return undefined;
}

const notAfterMs = (pem: string) => new Date(new X509Certificate(pem).validTo).getTime();

function issuedBy(leafPem: string, caPem: string): boolean {
  const leaf = new X509Certificate(leafPem);
  const ca = new X509Certificate(caPem);
  return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
}

function coversHosts(leafPem: string, hosts: readonly string[]): boolean {
  const leaf = new X509Certificate(leafPem);
  return hosts.every((h) => (/^[\d.]+$|:/.test(h) ? leaf.checkIP(h) : leaf.checkHost(h, { wildcards: false })) !== undefined);
}

/** The CA certificates the webhook configurations must trust, active first. */
export function bundleOf(state: CertificateState): string {
  return [state.ca?.cert, state.next?.cert, state.previous?.cert].filter((c): c is string => c !== undefined).join('');
}

/** The certificates of a PEM bundle, normalised, for comparing bundles and finding one in another. */
export function certificatesIn(bundle: string): string[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((pem) => new X509Certificate(pem).raw.toString('base64'));
}

export interface Plan {
  readonly state: CertificateState;
  /** What changed, for the log; empty when the Secret is already as it should be. */
  readonly changes: readonly string[];
}

export async function planCertificates(current: CertificateState, liveBundle: string, now: number, settings: CertificateSettings, mint: Minter): Promise<Plan> {
  const changes: string[] = [];
  let state: CertificateState = current;
  const newServing = async (ca: CertificateAuthority) =>
    mint.serving(ca, settings.hosts, new Date(now), new Date(Math.min(now + settings.servingValidityMs, notAfterMs(ca.cert))));

  if (!state.ca) {
    const ca = await mint.ca(new Date(now), new Date(now + settings.caValidityMs));
    changes.push('created a CA and a serving certificate');
    return { state: { ca, serving: await newServing(ca) }, changes };
  }

  if (state.previous && now >= state.previous.retireAt) {
    const { previous: _retired, ...rest } = state;
    state = rest;
    changes.push('retired the previous CA from the bundle');
  }

  if (state.next) {
    const live = certificatesIn(liveBundle);
    if (state.next.publishedAt === undefined && live.includes(certificatesIn(state.next.cert)[0]!)) {
      state = { ...state, next: { ...state.next, publishedAt: now } };
      changes.push('the next CA is in the live caBundle');
    }
    if (state.next!.publishedAt !== undefined && now >= state.next!.publishedAt + settings.promoteAfterMs) {
      const { next, ca: old, ...rest } = state;
      const ca: CertificateAuthority = { cert: next!.cert, key: next!.key };
      state = { ...rest, ca, serving: await newServing(ca), previous: { cert: old!.cert, retireAt: now + settings.retireAfterMs } };
      changes.push('promoted the next CA and issued a serving certificate under it');
    }
  } else if (state.rotateRequested || notAfterMs(state.ca!.cert) - now < settings.caRenewBeforeMs) {
    const why = state.rotateRequested ? 'rotation requested' : 'the CA nears its end';
    const next = await mint.ca(new Date(now), new Date(now + settings.caValidityMs));
    state = { ...state, next: { ...next, stagedAt: now }, rotateRequested: false };
    changes.push(`staged a next CA (${why})`);
  }
  if (state.rotateRequested) {
    // Already rotating: the request is served by the rotation under way.
    state = { ...state, rotateRequested: false };
    changes.push('rotation request taken by the rotation under way');
  }

  const ca = state.ca!;
  const serving = state.serving;
  const usable = serving !== undefined && issuedBy(serving.cert, ca.cert) && coversHosts(serving.cert, settings.hosts);
  if (!usable || notAfterMs(serving.cert) - now < settings.servingRenewBeforeMs) {
    const candidate = await newServing(ca);
    // Near the CA's end a renewal cannot outlast the current certificate: keep it rather than
    // re-issue on every poll (the CA rotation above ends this).
    if (!usable || notAfterMs(candidate.cert) > notAfterMs(serving.cert)) {
      state = { ...state, serving: candidate };
      changes.push(usable ? 'renewed the serving certificate' : 'issued a serving certificate (missing, another CA, or other host names)');
    }
  }
  return { state, changes };
}
