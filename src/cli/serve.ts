// `ecr-admission serve`: the HTTPS webhook plus the plain-HTTP health port.
import type { Logger } from 'pino';
import type { ServeOptions } from './args.ts';
import { createPolicyStore } from '../policy/store.ts';
import { createRuntime } from './wiring.ts';
import { buildWebhookApp } from '../server/app.ts';
import { buildHealthApp } from '../server/health.ts';
import { listenOn } from '../server/listen.ts';
import { createMetrics } from '../support/metrics.ts';
import { createCertificateAuthority, generateSelfSigned, issueServingCertificate } from '../server/self-signed.ts';
import { readKeyPair, watchKeyPair, TLS_OPTIONS, type KeyPair } from '../server/tls.ts';
import { checkSettings, DEFAULT_CERTIFICATE_SETTINGS, type CertificateSettings } from '../server/certificate-plan.ts';
import { createCertificateManager, type CertificateManager } from '../server/certificates.ts';
import { AdmissionError, ErrorCodes } from '../support/errors.ts';
import { X509Certificate } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

export interface RunningServer {
  readonly webhookUrl: string;
  readonly healthUrl: string;
  readonly caPem?: string;
  /** Stops accepting, lets in-flight reviews finish, then resolves. */
  close(): Promise<void>;
}

/** What the caller hands in beside the options: tests, the AWS credentials provider in place
 *  of the process's own; run.ts, the log destination's count of dropped lines (a metric). */
export interface ServeInjections {
  readonly credentials?: AwsCredentialIdentityProvider;
  readonly logLinesDropped?: () => number;
}

export async function serve(
  options: ServeOptions,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  print: (line: string) => void,
  inject: ServeInjections = {},
): Promise<RunningServer> {
  // Everything that can refuse to start (TLS files, the policy file) is read before anything
  // listens or polls, so a bad file fails fast instead of leaving half a server running.
  let pair: KeyPair;
  let caPem: string | undefined;
  const metrics = createMetrics({ defaultMetrics: true, ...(inject.logLinesDropped && { logLinesDropped: inject.logLinesDropped }) });
  // The policy first: a bad one ends the process before it touches the API server (and so
  // before any webhook configuration could be armed for a server that will not run).
  const policyStore = createPolicyStore({
    ...(options.config !== undefined && { path: options.config }),
    ...(options.ownNamespace !== undefined && { ownNamespace: options.ownNamespace }),
    logger,
    metrics,
  });
  const observeServing = (served: KeyPair) => metrics.certificateNotAfter.set(Math.floor(new Date(new X509Certificate(served.cert).validTo).getTime() / 1000));
  // `serve` is set once the webhook app exists; the certificate manager hands it renewed pairs.
  const newPairs: { serve?: (served: KeyPair) => void } = {};
  const certificates = await certificateManager(
    options,
    logger,
    (served) => {
      observeServing(served);
      newPairs.serve?.(served);
    },
    () => pair,
  );
  if (certificates && options.certificateSecret) {
    // The first replica makes the CA and certificate, the others read them: nothing listens
    // (and no Pod is Ready) before this process holds the pair the webhook configuration trusts.
    pair = await certificates.firstPair(options.reloadIntervalMs);
  } else if (options.tlsCert && options.tlsKey) {
    pair = readKeyPair(options.tlsCert, options.tlsKey);
  } else {
    const generated = await generateSelfSigned(['localhost', '127.0.0.1']);
    pair = generated;
    caPem = generated.caPem;
    print(`No --tls-cert/--tls-key: serving with a self-signed certificate for localhost and 127.0.0.1. Its CA:\n${generated.caPem}`);
  }
  observeServing(pair);
  const runtime = createRuntime({
    policyStore,
    logger,
    metrics,
    budgetMs: options.budgetMs,
    ...(options.pinBudgetMs !== undefined && { pinBudgetMs: options.pinBudgetMs }),
    env,
    ...(inject.credentials !== undefined && { credentials: inject.credentials }),
  });

  const webhook = buildWebhookApp({ reviewer: runtime.reviewer, mutator: runtime.mutator, logger, metrics, maxBodyBytes: options.maxBodyBytes, tls: pair });
  let tlsReloads = 0;
  newPairs.serve = (served) => {
    (webhook.server as unknown as HttpsServer).setSecureContext({ ...TLS_OPTIONS, ...served });
    pair = served;
    tlsReloads++;
  };
  const health = buildHealthApp({
    metrics,
    // Ready means this Pod can answer correctly: the policy is loaded (it was, or serve would
    // have refused to start), AWS credentials were obtained at least once (credentials.ts),
    // and, with a webhook configuration to maintain, its caBundle trusts what this process
    // serves (a Pod serving a certificate the API server would refuse takes no traffic).
    readiness: () => {
      const aws = runtime.credentials.status();
      return {
        ready: aws.obtained && (certificates ? certificates.status().trusted : true),
        detail: { policy: policyStore.status(), tlsReloads, awsCredentials: aws, ...(certificates && { certificates: certificates.status() }) },
      };
    },
  });
  const stopCredentialCheck = runtime.credentials.start();
  try {
    // `::` (the default) is IPv4 and IPv6 at once, or IPv4 where the node has no IPv6 (listen.ts).
    await listenOn(webhook, options.port, options.host);
    await listenOn(health, options.healthPort, options.host);
  } catch (err) {
    stopCredentialCheck();
    // A port in use must end the process with the error, not leave the other listener open.
    await webhook.close();
    await health.close();
    await runtime.close();
    throw err;
  }
  // Issue 16: AWS events keep facts fresh; they run beside the admissions, never in their path.
  runtime.events?.start();
  const stopPolicyWatch = policyStore.watch(options.reloadIntervalMs);
  const stopTlsWatch =
    options.tlsCert && options.tlsKey
      ? watchKeyPair(webhook.server as unknown as HttpsServer, { certPath: options.tlsCert, keyPath: options.tlsKey }, pair, {
          intervalMs: options.reloadIntervalMs,
          logger,
          onReload: (_fp, reloaded) => {
            tlsReloads++;
            pair = reloaded;
            observeServing(reloaded);
          },
        })
      : () => {};
  // Only now may the webhook configuration be switched to its failurePolicy: this replica answers.
  certificates?.listening();
  const stopCertificates = certificates ? certificates.start(options.reloadIntervalMs) : () => {};
  const webhookAddress = webhook.server.address();
  const healthAddress = health.server.address();
  const portOf = (a: typeof webhookAddress) => (typeof a === 'object' && a ? a.port : 0);
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;
  logger.info(
    { port: portOf(webhookAddress), healthPort: portOf(healthAddress), policyVersion: policyStore.current().version, budgetMs: options.budgetMs },
    'ecr-admission serving',
  );
  return {
    webhookUrl: `https://${shownHost}:${portOf(webhookAddress)}`,
    healthUrl: `http://${shownHost}:${portOf(healthAddress)}`,
    ...(caPem !== undefined && { caPem }),
    async close() {
      stopCredentialCheck();
      stopPolicyWatch();
      stopTlsWatch();
      // The webhook configuration is left as it is: other replicas may still serve, and Helm
      // deletes it on uninstall (certificates.ts).
      stopCertificates();
      await webhook.close();
      await health.close();
      await runtime.close();
    },
  };
}

/**
 * The certificate manager when the server maintains a webhook configuration: with
 * --certificate-secret it keeps the certificates too; with files it only arms failurePolicy.
 */
async function certificateManager(
  options: ServeOptions,
  logger: Logger,
  onServing: (pair: KeyPair) => void,
  currentPair: () => KeyPair | undefined,
): Promise<CertificateManager | undefined> {
  if (options.webhookConfigurations === undefined) return undefined;
  // Loaded only here: the Kubernetes client costs about 34 MB of heap.
  const { createKubeCluster } = await import('../server/kube-cluster.ts');
  const cluster = createKubeCluster({
    namespace: options.ownNamespace ?? '',
    ...(options.certificateSecret !== undefined && { secretName: options.certificateSecret }),
    webhookConfigurations: options.webhookConfigurations,
  });
  if (options.certificateSecret === undefined) return createCertificateManager({ cluster, currentPair, logger, onServing });
  const settings: CertificateSettings = {
    ...DEFAULT_CERTIFICATE_SETTINGS,
    hosts: options.tlsHosts ?? [],
    ...(options.caPromoteAfterMs !== undefined && { promoteAfterMs: options.caPromoteAfterMs }),
    ...(options.caRetireAfterMs !== undefined && { retireAfterMs: options.caRetireAfterMs }),
  };
  const problem = checkSettings(settings);
  if (problem) throw new AdmissionError(ErrorCodes.TLS_INVALID, `certificate settings: ${problem}`);
  return createCertificateManager({
    cluster,
    logger,
    onServing,
    keep: {
      settings,
      minter: {
        ca: (notBefore, notAfter) => createCertificateAuthority({ commonName: `${options.webhookConfigurations![0]} CA`, notBefore, notAfter }),
        serving: (ca, hosts, notBefore, notAfter) => issueServingCertificate(ca, { hosts, notBefore, notAfter }),
      },
    },
  });
}
