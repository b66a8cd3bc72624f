// `ecr-admission controller`: continuous compliance. Wires the webhook's runtime (policy,
// checks, fact cache, AWS clients, metrics) to the Pod informer, the PolicyReport publisher and
// the Lease; only the leader watches and writes, a standby campaigns and serves its health port.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { KubeConfig } from '@kubernetes/client-node';
import type { ControllerCommandOptions } from './controller-args.ts';
import { createPolicyStore } from '../policy/store.ts';
import { createRuntime } from './wiring.ts';
import { buildHealthApp } from '../server/health.ts';
import { listenOn } from '../server/listen.ts';
import { createMetrics } from '../support/metrics.ts';
import { errorMessage } from '../support/errors.ts';
import { ImageEvaluator } from '../controller/evaluations.ts';
import { ComplianceController } from '../controller/controller.ts';
import { ReportPublisher } from '../controller/publisher.ts';
import { standingsFromReport } from '../controller/report.ts';
import { kubeEventSink, kubeReportPort } from '../controller/kube-reports.ts';
import { kubeLeasePort } from '../controller/lease-kube.ts';
import { LeaderElector } from '../controller/lease.ts';
import { watchNamespaces, watchPods, type PodWatch } from '../controller/pod-watch.ts';
import { selectorMatches } from '../controller/namespace-scope.ts';
import { awsCallCount, createControllerMetrics } from '../controller/metrics.ts';

export interface RunningController {
  readonly healthUrl: string;
  readonly identity: string;
  /** Releases the lease (when held), stops watching, closes the health port. */
  close(): Promise<void>;
}

export interface ControllerInjections {
  readonly credentials?: AwsCredentialIdentityProvider;
  readonly kubeConfig?: KubeConfig;
}

export async function runController(
  options: ControllerCommandOptions,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  inject: ControllerInjections = {},
): Promise<RunningController> {
  const metrics = createMetrics({ defaultMetrics: true });
  const policyStore = createPolicyStore({
    ...(options.config !== undefined && { path: options.config }),
    ...(options.ownNamespace !== undefined && { ownNamespace: options.ownNamespace }),
    logger,
    metrics,
  });
  const runtime = createRuntime({
    policyStore,
    logger,
    metrics,
    budgetMs: options.budgetMs,
    env,
    ...(inject.credentials !== undefined && { credentials: inject.credentials }),
  });
  const kubeConfig = inject.kubeConfig ?? new KubeConfig();
  // In a Pod: the ServiceAccount; elsewhere: $KUBECONFIG or ~/.kube/config.
  if (!inject.kubeConfig) kubeConfig.loadFromDefault();
  const identity = options.identity ?? `${hostname()}_${randomBytes(4).toString('hex')}`;
  const controllerMetrics = createControllerMetrics(metrics);
  const evaluator = new ImageEvaluator({
    checkImage: (image, namespace, signal, deadline) => runtime.reviewer.checkImage(image, namespace, signal, deadline),
    policy: () => policyStore.current(),
    concurrency: options.concurrency,
    budgetMs: options.budgetMs,
  });
  const publisher = new ReportPublisher(kubeReportPort(kubeConfig));
  const event = kubeEventSink(kubeConfig, identity);

  let active: { controller: ComplianceController; watch: PodWatch; namespaces?: PodWatch } | undefined;
  let stopping: Promise<void> = Promise.resolve();
  /** Leadership terms begun: a term that was superseded before it started does not start. */
  let terms = 0;
  const lead = () => {
    const term = ++terms;
    // The labels of each Namespace, when the chart gave the webhook's namespaceSelector.
    const selector = options.namespaceSelector;
    const namespaceLabels = new Map<string, string>();
    const controller = new ComplianceController({
      ...(selector !== undefined && {
        namespaceInScope: (namespace: string) => {
          const labels = namespaceLabels.get(namespace);
          return labels !== undefined && selectorMatches(selector, JSON.parse(labels) as Record<string, string>);
        },
      }),
      evaluator,
      policy: () => policyStore.current(),
      reports: publisher,
      event,
      intervalMs: options.intervalMs,
      metrics: controllerMetrics,
      awsCalls: () => awsCallCount(metrics),
      logger,
    });
    // The previous term's stop finishes first: two terms never write at once.
    void stopping.then(() => {
      if (!elector.leading || term !== terms) return;
      const watch = watchPods(kubeConfig, controller, { logger });
      // A relabelled namespace enters or leaves the reports at the next round.
      const namespaces =
        selector &&
        watchNamespaces(
          kubeConfig,
          {
            upsert: (ns) => {
              const name = ns.metadata?.name;
              if (!name) return;
              const labels = JSON.stringify(ns.metadata?.labels ?? {});
              if (namespaceLabels.get(name) === labels) return;
              namespaceLabels.set(name, labels);
              controller.request(false);
            },
            remove: (ns) => {
              if (ns.metadata?.name && namespaceLabels.delete(ns.metadata.name)) controller.request(false);
            },
          },
          { logger },
        );
      active = { controller, watch, ...(namespaces && { namespaces }) };
      // The first round once every Pod and Namespace is known and every stored report read.
      void Promise.all([
        watch.synced,
        namespaces?.synced,
        publisher.prime().then(
          (stored) => {
            for (const report of stored) controller.seedStandings(standingsFromReport(report.body.results));
          },
          (err: unknown) => logger.warn({ err: errorMessage(err) }, 'controller: could not list the PolicyReports'),
        ),
      ]).then(() => {
        if (active?.controller !== controller) return; // no longer leading
        controller.start();
        controller.request(true);
      });
    });
    controllerMetrics.leader.set(1);
  };
  const unlead = () => {
    controllerMetrics.leader.set(0);
    const ending = active;
    active = undefined;
    // A new leader (this one later, or another) reads the reports again.
    stopping = stopping.then(async () => {
      if (ending) await Promise.all([ending.watch.stop(), ending.namespaces?.stop(), ending.controller.stop()]);
      publisher.reset();
    });
    return stopping;
  };
  const elector = new LeaderElector({
    port: kubeLeasePort(kubeConfig, options.ownNamespace ?? 'default', options.leaseName),
    identity,
    timing: { leaseDurationMs: options.leaseDurationMs, renewDeadlineMs: options.renewDeadlineMs, retryPeriodMs: options.retryPeriodMs },
    logger,
    onStartedLeading: lead,
    onStoppedLeading: unlead,
  });
  const health = buildHealthApp({
    metrics,
    readiness: () => {
      const last = active?.controller.rounds.at(-1);
      return {
        ready: true,
        detail: {
          policy: policyStore.status(),
          identity,
          leader: elector.leading,
          ...(active && { pods: active.controller.podCount, watchErrors: active.watch.errors() }),
          ...(last && { lastRound: last }),
        },
      };
    },
  });
  await listenOn(health, options.healthPort, options.host);
  const stopPolicyWatch = policyStore.watch(options.reloadIntervalMs);
  elector.start();
  const address = health.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  logger.info({ healthPort: port, identity, intervalMs: options.intervalMs, policyVersion: policyStore.current().version }, 'ecr-admission controller started');
  return {
    healthUrl: `http://127.0.0.1:${port}`,
    identity,
    async close() {
      stopPolicyWatch();
      try {
        await elector.stop();
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'controller: stopping the election failed');
      }
      await stopping;
      await health.close();
      await runtime.close();
    },
  };
}
