// The SQS long-poll loop of AWS events (policy events.sqsQueueUrl). It runs beside the
// admissions, never in their path: its calls have their own client and budget, a slow or
// failing queue only delays freshness. Every message is deleted once read: applied, ignored
// (an event that says nothing about facts) or malformed (logged). An action that fails is not
// retried through SQS either: actions are drops, and a drop that half happened is repeated by
// nothing better than the TTL. Receive errors back off (1 s doubling to 60 s), so a missing
// queue or a denied role costs a call a minute, not a loop.
import { DeleteMessageCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Metrics } from '../support/metrics.ts';
import { parseEvent, type FactEvent } from './envelope.ts';

export interface EventPollerOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly waitTimeSeconds: number;
  readonly apply: (event: FactEvent) => Promise<void>;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Back-off after a failed receive: first and largest wait, ms. */
  readonly backoffMs?: { readonly first: number; readonly max: number };
}

const DEFAULT_BACKOFF = { first: 1_000, max: 60_000 };
/** Bound of one message's drop (the shared level's command bound is far below it). */
const APPLY_TIMEOUT_MS = 5_000;

export class EventPoller {
  readonly #o: EventPollerOptions;
  readonly #abort = new AbortController();
  readonly #messages: Counter<'kind' | 'outcome'> | undefined;
  readonly #receiveErrors: Counter<'error'> | undefined;
  #loop: Promise<void> | undefined;
  /** Messages handled so far (tests wait on it). */
  handled = 0;

  constructor(options: EventPollerOptions) {
    this.#o = options;
    if (options.metrics) {
      const registers = [options.metrics.registry];
      this.#messages = new Counter({
        name: 'ecr_admission_events_total',
        help: 'AWS events read from the SQS queue, by kind (push, delete, scan, finding, other) and outcome (applied, ignored, malformed, failed)',
        labelNames: ['kind', 'outcome'],
        registers,
      });
      this.#receiveErrors = new Counter({
        name: 'ecr_admission_events_receive_errors_total',
        help: 'Failed SQS ReceiveMessage calls, by error name (the poller backs off)',
        labelNames: ['error'],
        registers,
      });
    }
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const backoff = this.#o.backoffMs ?? DEFAULT_BACKOFF;
    let wait = backoff.first;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let messages: Message[];
      try {
        const out = await this.#o.client.send(
          new ReceiveMessageCommand({ QueueUrl: this.#o.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: this.#o.waitTimeSeconds }),
          { abortSignal: signal },
        );
        messages = out.Messages ?? [];
        wait = backoff.first;
      } catch (error) {
        if (signal.aborted) break;
        const name = error instanceof Error ? error.name : 'error';
        this.#receiveErrors?.inc({ error: name.slice(0, 64) });
        this.#o.logger?.warn(
          { err: error instanceof Error ? error.message : String(error), retryInMs: wait },
          'events: SQS ReceiveMessage failed; backing off',
        );
        await sleep(wait, signal);
        wait = Math.min(backoff.max, wait * 2);
        continue;
      }
      for (const message of messages) {
        if (signal.aborted) break;
        await this.#handle(message);
      }
    }
  }

  async #handle(message: Message): Promise<void> {
    const parsed = typeof message.Body === 'string' ? parseEvent(message.Body) : { malformed: 'no body' };
    if ('malformed' in parsed) {
      this.#messages?.inc({ kind: 'other', outcome: 'malformed' });
      this.#o.logger?.warn({ messageId: message.MessageId, reason: parsed.malformed }, 'events: malformed message deleted');
    } else if ('ignored' in parsed) {
      this.#messages?.inc({ kind: 'other', outcome: 'ignored' });
      this.#o.logger?.debug({ messageId: message.MessageId, reason: parsed.ignored }, 'events: message ignored');
    } else {
      try {
        await withTimeout(this.#o.apply(parsed.event), APPLY_TIMEOUT_MS);
        this.#messages?.inc({ kind: parsed.event.kind, outcome: 'applied' });
      } catch (error) {
        this.#messages?.inc({ kind: parsed.event.kind, outcome: 'failed' });
        this.#o.logger?.warn({ messageId: message.MessageId, err: error instanceof Error ? error.message : String(error) }, 'events: action failed');
      }
    }
    if (message.ReceiptHandle !== undefined) {
      try {
        await this.#o.client.send(new DeleteMessageCommand({ QueueUrl: this.#o.queueUrl, ReceiptHandle: message.ReceiptHandle }), {
          abortSignal: AbortSignal.timeout(10_000),
        });
      } catch (error) {
        // It comes back after its visibility timeout and is handled again: harmless (idempotent).
        this.#o.logger?.warn({ messageId: message.MessageId, err: error instanceof Error ? error.message : String(error) }, 'events: DeleteMessage failed');
      }
    }
    this.handled++;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`took over ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
