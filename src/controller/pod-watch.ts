// Pods of every namespace through @kubernetes/client-node's informer: a list, then a watch that
// resumes from the last resourceVersion; on 410 Gone (the version was compacted) it lists
// again, and Pods gone meanwhile are reported deleted. The informer stops on any other error
// (connection refused, reset, 5xx): it is started again here after a backoff that doubles up to
// a cap and resets once a list and watch succeed again.
import { CoreV1Api, makeInformer, type Informer, type KubeConfig, type KubernetesObject, type V1Namespace, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage } from '../support/errors.ts';

export class Backoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  #failures = 0;

  constructor(baseMs = 1000, maxMs = 30_000) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }

  /** The wait before the next attempt, doubling with each failure since the last success. */
  next(): number {
    const ms = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    return ms;
  }

  reset(): void {
    this.#failures = 0;
  }

  get failures(): number {
    return this.#failures;
  }
}

export interface WatchHandlers<T> {
  upsert(object: T): void;
  remove(object: T): void;
}
export type PodHandlers = WatchHandlers<V1Pod>;

export interface PodWatch {
  /** Resolves once the first list has been delivered. */
  readonly synced: Promise<void>;
  /** Connection errors so far (each followed by a restart after the backoff). */
  errors(): number;
  stop(): Promise<void>;
}

export interface PodWatchOptions {
  readonly logger?: Logger;
  readonly backoff?: Backoff;
  /** Informers for tests (a list function and path of their own); default: every Pod. */
  readonly informer?: (kubeConfig: KubeConfig) => Informer<V1Pod>;
}

function podInformer(kubeConfig: KubeConfig): Informer<V1Pod> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return makeInformer<V1Pod>(kubeConfig, '/api/v1/pods', () => core.listPodForAllNamespaces());
}

export function watchPods(kubeConfig: KubeConfig, handlers: PodHandlers, options: PodWatchOptions = {}): PodWatch {
  return watchInformer((options.informer ?? podInformer)(kubeConfig), handlers, 'pod watch', options);
}

/** Namespaces (their labels decide the controller's scope, namespace-scope.ts). */
export function watchNamespaces(kubeConfig: KubeConfig, handlers: WatchHandlers<V1Namespace>, options: Omit<PodWatchOptions, 'informer'> = {}): PodWatch {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return watchInformer(
    makeInformer<V1Namespace>(kubeConfig, '/api/v1/namespaces', () => core.listNamespace()),
    handlers,
    'namespace watch',
    options,
  );
}

function watchInformer<T extends KubernetesObject>(
  informer: Informer<T>,
  handlers: WatchHandlers<T>,
  what: string,
  options: Omit<PodWatchOptions, 'informer'>,
): PodWatch {
  const backoff = options.backoff ?? new Backoff();
  let stopped = false;
  let errors = 0;
  let timer: NodeJS.Timeout | undefined;
  let markSynced: () => void = () => {};
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  informer.on('add', (o) => handlers.upsert(o));
  informer.on('update', (o) => handlers.upsert(o));
  informer.on('delete', (o) => handlers.remove(o));
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    errors++;
    const waitMs = backoff.next();
    options.logger?.warn({ err: errorMessage(err), retryInMs: waitMs }, `${what}: lost the API server; resuming after a backoff`);
    timer = setTimeout(() => void begin(), waitMs);
  });
  const begin = async () => {
    if (stopped) return;
    const before = errors;
    try {
      await informer.start();
      // Listed (when it had to) and watching again: the next loss starts from the base wait.
      if (errors === before) {
        backoff.reset();
        markSynced();
      }
    } catch (err) {
      // start() reports through 'error' itself; anything thrown here is reported the same way.
      options.logger?.warn({ err: errorMessage(err) }, `${what}: start failed`);
    }
  };
  void begin();
  return {
    synced,
    errors: () => errors,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}
