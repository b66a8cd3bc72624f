// AWS events from the policy's events block: the SQS client, the actions and the poller, for
// wiring.ts. The client is the real @aws-sdk/client-sqs with the process's credentials; its
// endpoint is AWS_ENDPOINT_URL_SQS when set (a VPC endpoint, the sandbox), else the queue URL's
// own host (the SDK's useQueueUrlAsEndpoint).
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Logger } from 'pino';
import type { Check } from '../checks/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { EventsConfig } from '../policy/schema.ts';
import type { FactCache } from '../support/fact-cache.ts';
import type { Metrics } from '../support/metrics.ts';
import type { SharedFactCache } from '../facts/shared-cache/index.ts';
import { EventActions } from './actions.ts';
import { EventPoller } from './poller.ts';
import { checksPrewarm } from './prewarm.ts';

export { EventActions } from './actions.ts';
export { EventPoller } from './poller.ts';
export { parseEvent, type FactEvent } from './envelope.ts';

/** The region of https://sqs.<region>.amazonaws.com[.cn]/<account>/<name>, or of the config. */
export function queueRegion(config: EventsConfig): string {
  if (config.region !== undefined) return config.region;
  const m = /^sqs[.-]([a-z]{2}(?:-[a-z]+)+-[0-9]{1,2})\.amazonaws\.com(?:\.cn)?$/.exec(new URL(config.sqsQueueUrl).hostname);
  if (!m) throw new Error(`events.region is needed: the queue URL ${config.sqsQueueUrl} names no region`);
  return m[1]!;
}

export interface Events {
  readonly poller: EventPoller;
  readonly actions: EventActions;
  start(): void;
  stop(): Promise<void>;
}

export function createEvents(
  config: EventsConfig,
  deps: {
    env: Readonly<Record<string, string | undefined>>;
    credentials: AwsCredentialIdentityProvider;
    cache: FactCache;
    shared?: SharedFactCache;
    checks: readonly Check[];
    policy: () => CompiledPolicy;
    budgetMs: number;
    now?: () => number;
    logger?: Logger;
    metrics?: Metrics;
  },
): Events {
  const endpoint = deps.env.AWS_ENDPOINT_URL_SQS;
  const client = new SQSClient({
    region: queueRegion(config),
    credentials: deps.credentials,
    ...(endpoint !== undefined && endpoint !== '' && { endpoint }),
    maxAttempts: 3,
    // The long poll holds the request up to waitTimeSeconds: the socket may be quiet that long.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: (config.waitTimeSeconds + 10) * 1000 },
  });
  const actions = new EventActions({
    cache: deps.cache,
    ...(deps.shared && { shared: deps.shared }),
    prewarm: checksPrewarm({ checks: deps.checks, policy: deps.policy, budgetMs: deps.budgetMs, ...(deps.now && { now: deps.now }) }),
    ...(deps.logger && { logger: deps.logger }),
  });
  const poller = new EventPoller({
    client,
    queueUrl: config.sqsQueueUrl,
    waitTimeSeconds: config.waitTimeSeconds,
    apply: (event) => actions.apply(event),
    ...(deps.logger && { logger: deps.logger }),
    ...(deps.metrics && { metrics: deps.metrics }),
  });
  return {
    poller,
    actions,
    start: () => poller.start(),
    async stop() {
      await poller.stop();
      await actions.settled();
      client.destroy();
    },
  };
}
