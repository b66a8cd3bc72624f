// `ecr-admission serve`: the HTTPS webhook plus the plain-HTTP health port.
import type { Logger } from 'pino';
import type { ServeOptions } from './args.ts';
import { createPolicyStore } from '../policy/store.ts';
import { createRuntime } from './wiring.ts';
import { buildWebhookApp } from '../server/app.ts';
import { buildHealthApp } from '../server/health.ts';
import { createMetrics } from '../support/metrics.ts';
import { generateSelfSigned } from '../server/self-signed.ts';
import { readKeyPair, watchKeyPair, type KeyPair } from '../server/tls.ts';
import type { Server as HttpsServer } from 'node:https';

export interface RunningServer {
  readonly webhookUrl: string;
  readonly healthUrl: string;
  readonly caPem?: string;
  /** Stops accepting, lets in-flight reviews finish, then resolves. */
  close(): Promise<void>;
}

export async function serve(options: ServeOptions, env: Readonly<Record<string, string | undefined>>, logger: Logger, print: (line: string) => void): Promise<RunningServer> {
  // Everything that can refuse to start (TLS files, the policy file) is read before anything
  // listens or polls, so a bad file fails fast instead of leaving half a server running.
  let pair: KeyPair;
  let caPem: string | undefined;
  if (options.tlsCert && options.tlsKey) {
    pair = readKeyPair(options.tlsCert, options.tlsKey);
  } else {
    const generated = await generateSelfSigned(['localhost', '127.0.0.1']);
    pair = generated;
    caPem = generated.caPem;
    print(`No --tls-cert/--tls-key: serving with a self-signed certificate for localhost and 127.0.0.1. Its CA:\n${generated.caPem}`);
  }
  const metrics = createMetrics({ defaultMetrics: true });
  const policyStore = createPolicyStore({ ...(options.config !== undefined && { path: options.config }), ...(options.ownNamespace !== undefined && { ownNamespace: options.ownNamespace }), logger, metrics });
  const runtime = createRuntime({ policyStore, logger, metrics, budgetMs: options.budgetMs, env });

  const webhook = buildWebhookApp({ reviewer: runtime.reviewer, logger, metrics, maxBodyBytes: options.maxBodyBytes, tls: pair });
  let tlsReloads = 0;
  const health = buildHealthApp({
    metrics,
    readiness: () => ({ ready: true, detail: { policy: policyStore.status(), tlsReloads } }),
  });
  try {
    await webhook.listen({ port: options.port, host: options.host });
    await health.listen({ port: options.healthPort, host: options.host });
  } catch (err) {
    // A port in use must end the process with the error, not leave the other listener open.
    await webhook.close();
    await health.close();
    await runtime.close();
    throw err;
  }
  const stopPolicyWatch = policyStore.watch(options.reloadIntervalMs);
  const stopTlsWatch = options.tlsCert && options.tlsKey
    ? watchKeyPair(webhook.server as unknown as HttpsServer, { certPath: options.tlsCert, keyPath: options.tlsKey }, pair, { intervalMs: options.reloadIntervalMs, logger, onReload: () => { tlsReloads++; } })
    : () => {};
  const webhookAddress = webhook.server.address();
  const healthAddress = health.server.address();
  const portOf = (a: typeof webhookAddress) => (typeof a === 'object' && a ? a.port : 0);
  const shownHost = options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  logger.info({ port: portOf(webhookAddress), healthPort: portOf(healthAddress), policyVersion: policyStore.current().version, budgetMs: options.budgetMs }, 'ecr-admission serving');
  return {
    webhookUrl: `https://${shownHost}:${portOf(webhookAddress)}`,
    healthUrl: `http://${shownHost}:${portOf(healthAddress)}`,
    ...(caPem !== undefined && { caPem }),
    async close() {
      stopPolicyWatch();
      stopTlsWatch();
      await webhook.close();
      await health.close();
      await runtime.close();
    },
  };
}
