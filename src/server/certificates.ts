// The in-cluster certificate manager and webhook registration, run by `serve` in every replica:
//  - keeps the CA and serving certificate in one Secret of the release namespace (the chart
//    renders it empty; the first replica fills it, the others read it: writes carry the
//    resourceVersion they read, so of two racing replicas one wins and the other adopts its
//    result on the next poll), renews and rotates them (certificate-plan.ts);
//  - puts the CA bundle into the webhook configuration's caBundle, and once this replica
//    serves, switches failurePolicy from the Ignore the chart installs to the chart's target
//    (annotation ecr-admission.io/failure-policy): until a replica answers, nothing is rejected.
// With certificates from files (cert-manager, or --tls-cert/--tls-key) only the second part
// runs, and only for failurePolicy: the caBundle is cert-manager's.
// Shutdown leaves the configuration as it is: a rolling update stops replicas one by one, and
// only Helm (uninstall) knows that the last one is going; it deletes the configuration.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage } from '../support/errors.ts';
import { bundleOf, certificatesIn, planCertificates, type CertificateSettings, type CertificateState, type Minter } from './certificate-plan.ts';
import type { KeyPair } from './tls.ts';

export const FAILURE_POLICY_ANNOTATION = 'ecr-admission.io/failure-policy';
export const ROTATE_ANNOTATION = 'ecr-admission.io/rotate-ca';
const STAGED_AT = 'ecr-admission.io/next-ca-staged-at';
const PUBLISHED_AT = 'ecr-admission.io/next-ca-published-at';
const RETIRE_AT = 'ecr-admission.io/previous-ca-retire-at';
const OUR_ANNOTATIONS = [ROTATE_ANNOTATION, STAGED_AT, PUBLISHED_AT, RETIRE_AT];

/** The Secret as the manager reads and writes it (data as text, not base64). */
export interface SecretDocument {
  readonly resourceVersion: string;
  readonly data: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface WebhookDocument {
  readonly resourceVersion: string;
  /** One entry per webhook of the configuration, in order. */
  readonly webhooks: ReadonlyArray<{ readonly caBundle: string; readonly failurePolicy?: string }>;
  /** The chart's failurePolicy for when a replica serves. */
  readonly targetFailurePolicy?: string;
}

/** What the manager needs from the Kubernetes API (kube-cluster.ts), each call on one named object. */
export interface ClusterPort {
  readSecret(): Promise<SecretDocument | undefined>;
  /** false when the resourceVersion is stale (another replica wrote first). */
  writeSecret(document: SecretDocument): Promise<boolean>;
  /** The webhook configurations the server maintains, by name; the first is the image webhook's. */
  readonly configurations: readonly string[];
  readWebhooks(configuration: string): Promise<WebhookDocument | undefined>;
  /** Sets caBundle (when given) and failurePolicy (when given) on every webhook; false when stale. */
  patchWebhooks(configuration: string, resourceVersion: string, count: number, change: { caBundle?: string; failurePolicy?: string }): Promise<boolean>;
}

export function stateFromSecret(secret: SecretDocument): CertificateState {
  const d = secret.data;
  const a = secret.annotations;
  const time = (v: string | undefined) => (v === undefined || Number.isNaN(Date.parse(v)) ? undefined : Date.parse(v));
  const stagedAt = time(a[STAGED_AT]);
  const publishedAt = time(a[PUBLISHED_AT]);
  const retireAt = time(a[RETIRE_AT]);
  return {
    ...(d['ca.crt'] && d['ca.key'] && { ca: { cert: d['ca.crt'], key: d['ca.key'] } }),
    ...(d['tls.crt'] && d['tls.key'] && { serving: { cert: d['tls.crt'], key: d['tls.key'] } }),
    ...(d['next-ca.crt'] &&
      d['next-ca.key'] && {
        next: { cert: d['next-ca.crt'], key: d['next-ca.key'], stagedAt: stagedAt ?? 0, ...(publishedAt !== undefined && { publishedAt }) },
      }),
    ...(d['previous-ca.crt'] && { previous: { cert: d['previous-ca.crt'], retireAt: retireAt ?? 0 } }),
    ...(a[ROTATE_ANNOTATION] !== undefined && a[ROTATE_ANNOTATION] !== '' && { rotateRequested: true }),
  };
}

export function secretFromState(state: CertificateState, base: SecretDocument): SecretDocument {
  const data: Record<string, string> = {};
  if (state.ca) Object.assign(data, { 'ca.crt': state.ca.cert, 'ca.key': state.ca.key });
  if (state.serving) Object.assign(data, { 'tls.crt': state.serving.cert, 'tls.key': state.serving.key });
  if (state.next) Object.assign(data, { 'next-ca.crt': state.next.cert, 'next-ca.key': state.next.key });
  if (state.previous) data['previous-ca.crt'] = state.previous.cert;
  // The bundle the webhook configurations get, for anyone who wants to check it by hand.
  data['ca-bundle.crt'] = bundleOf(state);
  const annotations: Record<string, string> = Object.fromEntries(Object.entries(base.annotations).filter(([k]) => !OUR_ANNOTATIONS.includes(k)));
  if (state.next) annotations[STAGED_AT] = new Date(state.next.stagedAt).toISOString();
  if (state.next?.publishedAt !== undefined) annotations[PUBLISHED_AT] = new Date(state.next.publishedAt).toISOString();
  if (state.previous) annotations[RETIRE_AT] = new Date(state.previous.retireAt).toISOString();
  if (state.rotateRequested) annotations[ROTATE_ANNOTATION] = base.annotations[ROTATE_ANNOTATION] ?? 'requested';
  return { resourceVersion: base.resourceVersion, data, annotations };
}

function trusts(bundle: string, leafPem: string): boolean {
  const leaf = new X509Certificate(leafPem);
  for (const pem of bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    const ca = new X509Certificate(pem);
    if (leaf.checkIssued(ca) && leaf.verify(ca.publicKey)) return true;
  }
  return false;
}

const sameCertificates = (a: string, b: string) => certificatesIn(a).join() === certificatesIn(b).join();

export interface CertificateStatus {
  /** This replica serves a certificate the webhook configuration's caBundle trusts. */
  readonly trusted: boolean;
  /** failurePolicy is the chart's target (this or another replica set it). */
  readonly armed: boolean;
  readonly notAfter?: string;
  readonly lastError?: string;
}

export interface CertificateManagerOptions {
  readonly cluster: ClusterPort;
  /** Present: certificates are kept in the Secret. Absent: they come from files (currentPair). */
  readonly keep?: { readonly settings: CertificateSettings; readonly minter: Minter };
  readonly currentPair?: () => KeyPair | undefined;
  readonly now?: () => number;
  readonly logger?: Logger;
  /** Called with a pair to serve when the Secret holds a new one. */
  readonly onServing?: (pair: KeyPair) => void;
}

export interface CertificateManager {
  /** One reconciliation: read, plan, write, serve, patch. Never throws; errors go to status(). */
  tick(): Promise<void>;
  /** Ticks every intervalMs (after the first, which is immediate) until the returned stop is called. */
  start(intervalMs: number): () => void;
  /** The pair to serve once the Secret holds one (ticks until then). */
  firstPair(intervalMs: number, signal?: AbortSignal): Promise<KeyPair>;
  /** Called once the server listens: from now on failurePolicy may be switched to the target. */
  listening(): void;
  status(): CertificateStatus;
}

export function createCertificateManager(options: CertificateManagerOptions): CertificateManager {
  const now = options.now ?? Date.now;
  let serving: KeyPair | undefined;
  let listening = false;
  let status: CertificateStatus = { trusted: false, armed: false };
  let running: Promise<void> | undefined;

  async function keepSecret(liveBundle: string): Promise<CertificateState | undefined> {
    const keep = options.keep!;
    const secret = await options.cluster.readSecret();
    if (!secret) throw new Error('the certificate Secret does not exist (the chart renders it: helm upgrade restores it)');
    const current = stateFromSecret(secret);
    const plan = await planCertificates(current, liveBundle, now(), keep.settings, keep.minter);
    if (plan.changes.length === 0) return current;
    if (!(await options.cluster.writeSecret(secretFromState(plan.state, secret)))) {
      options.logger?.info('certificate Secret changed under us (another replica); re-reading on the next poll');
      return undefined;
    }
    options.logger?.info({ changes: plan.changes }, 'certificate Secret updated');
    return plan.state;
  }

  async function reconcile(): Promise<void> {
    const [primary, ...others] = options.cluster.configurations;
    const webhooks = await options.cluster.readWebhooks(primary!);
    if (!webhooks) throw new Error(`the webhook configuration ${primary} does not exist (the chart renders it)`);
    const liveBundle = webhooks.webhooks[0]?.caBundle ?? '';
    let bundle: string | undefined;
    if (options.keep) {
      const state = await keepSecret(liveBundle);
      if (!state) return;
      bundle = bundleOf(state);
      if (state.serving && state.serving.cert !== serving?.cert) {
        serving = state.serving;
        options.onServing?.(state.serving);
      }
    } else {
      serving = options.currentPair?.();
    }
    const trusted = serving !== undefined && trusts(bundle ?? liveBundle, serving.cert);
    let armed = await maintain(primary!, webhooks, bundle, trusted);
    if (armed === undefined) return;
    for (const name of others) {
      const other = await options.cluster.readWebhooks(name);
      // The others are optional (the chart renders the namespace-label webhook only when asked).
      if (!other) continue;
      const done = await maintain(name, other, bundle, trusted);
      if (done === undefined) return;
      armed &&= done;
    }
    status = { trusted, armed, ...(serving && { notAfter: new X509Certificate(serving.cert).validTo }) };
  }

  /** Patches one configuration as needed; whether it is armed, or undefined when it changed under us. */
  async function maintain(name: string, webhooks: WebhookDocument, bundle: string | undefined, trusted: boolean): Promise<boolean | undefined> {
    const target = webhooks.targetFailurePolicy;
    const bundleStale = bundle !== undefined && webhooks.webhooks.some((w) => !sameCertificates(w.caBundle, bundle));
    const arm = listening && trusted && target !== undefined && webhooks.webhooks.some((w) => w.failurePolicy !== target);
    if (bundleStale || arm) {
      const change = { ...(bundleStale && { caBundle: bundle }), ...(arm && { failurePolicy: target }) };
      if (!(await options.cluster.patchWebhooks(name, webhooks.resourceVersion, webhooks.webhooks.length, change))) return undefined;
      options.logger?.info({ configuration: name, caBundleUpdated: bundleStale, failurePolicy: change.failurePolicy }, 'webhook configuration updated');
    }
    return target === undefined || arm || webhooks.webhooks.every((w) => w.failurePolicy === target);
  }

  async function tick(): Promise<void> {
    // One reconciliation at a time per replica; a tick during one joins it.
    running ??= reconcile()
      .catch((err: unknown) => {
        status = { ...status, lastError: errorMessage(err) };
        options.logger?.warn({ err: errorMessage(err) }, 'certificate and webhook registration: will retry');
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  return {
    tick,
    start(intervalMs) {
      void tick();
      const timer = setInterval(() => void tick(), intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
    async firstPair(intervalMs, signal) {
      for (;;) {
        await tick();
        if (serving) return serving;
        signal?.throwIfAborted();
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    },
    listening() {
      listening = true;
    },
    status: () => status,
  };
}
