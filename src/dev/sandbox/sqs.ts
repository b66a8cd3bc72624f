// Amazon SQS in the sandbox, over its AWS JSON 1.0 protocol: POST / with
// X-Amz-Target: AmazonSQS.<Op> and Content-Type application/x-amz-json-1.0, the protocol
// @aws-sdk/client-sqs speaks (AwsJson1_0Protocol with awsQueryCompatible, runtimeConfig.shared.js).
// Operations: SendMessage, ReceiveMessage (long polling), DeleteMessage, GetQueueUrl.
//
// As strict as SQS (Amazon SQS API Reference: ReceiveMessage, DeleteMessage, SendMessage,
// GetQueueUrl, Common Errors; Developer Guide "Interpreting Amazon SQS JSON API responses"):
// - errors are a JSON body { __type, message } plus the x-amzn-query-error header
//   "<query code>;Sender|Receiver" the SDK names the exception by (QueueDoesNotExist travels as
//   AWS.SimpleQueueService.NonExistentQueue, ReceiptHandleIsInvalid as itself with status 404:
//   the service model's awsQueryError traits, client-sqs schemas_0.js);
// - MaxNumberOfMessages 1..10, WaitTimeSeconds 0..20, VisibilityTimeout 0..43200, else
//   InvalidParameterValue ("Value N for parameter X is invalid. Reason: ...");
// - a received message stays in flight for the visibility timeout (queue default 30 s) and
//   comes back if not deleted; every receive gives a new receipt handle; DeleteMessage with a
//   handle SQS did not issue is ReceiptHandleIsInvalid, with an older handle of a message
//   received again since it succeeds and deletes nothing ("you must provide the most recently
//   received receipt handle"), and deleting a message already deleted succeeds;
// - a body is 1 byte to 1 MiB (SQS's limit since August 2025) of the XML characters
//   #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF, else InvalidMessageContents.
import { createHash, randomUUID } from 'node:crypto';
import { ApiError, json, parseJsonBody, requireScope, type Outgoing } from './wire.ts';

export const SQS_TARGET_PREFIX = 'AmazonSQS.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';
const MAX_BODY_BYTES = 1_048_576;
const DEFAULT_VISIBILITY_S = 30;

interface StoredMessage {
  readonly id: string;
  readonly body: string;
  readonly md5: string;
  readonly sentAt: number;
  receiveCount: number;
  visibleAt: number;
  /** The most recent receipt handle: only it deletes the message. */
  handle?: string;
}

interface Queue {
  readonly url: string;
  readonly account: string;
  readonly region: string;
  readonly name: string;
  readonly visibilityTimeoutS: number;
  messages: StoredMessage[];
}

export interface QueueDepth {
  /** Messages a ReceiveMessage would return now. */
  readonly visible: number;
  /** Received, neither deleted nor back yet. */
  readonly inFlight: number;
}

/** Error with SQS's query-compatible code in x-amzn-query-error. */
function sqsError(status: number, type: string, queryCode: string, message: string, fault: 'Sender' | 'Receiver' = 'Sender'): ApiError {
  return new ApiError(status, type, message, { headers: { 'x-amzn-query-error': `${queryCode};${fault}` } });
}

const noQueue = () => sqsError(400, 'com.amazonaws.sqs#QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'The specified queue does not exist.');
const invalidParameter = (name: string, value: unknown, reason: string) =>
  sqsError(
    400,
    'com.amazonaws.sqs#InvalidParameterValue',
    'InvalidParameterValue',
    `Value ${String(value)} for parameter ${name} is invalid. Reason: ${reason}`,
  );
const missingParameter = (name: string) =>
  sqsError(400, 'com.amazonaws.sqs#MissingParameter', 'MissingParameter', `The request must contain the parameter ${name}.`);

/** The AWS JSON 1.0 error shape of SQS. */
export function renderSqsError(e: ApiError): Outgoing {
  return json(e.status, { __type: e.type, message: e.message }, CONTENT_TYPE, e.headers);
}

/** The errors the sandbox's fault kinds become in SQS (its Common Errors and RequestThrottled). */
export function sqsFaultError(kind: string, action: string): ApiError {
  switch (kind) {
    case 'throttle':
      return sqsError(403, 'com.amazonaws.sqs#RequestThrottled', 'RequestThrottled', 'Request is throttled.');
    case 'server-error':
      return sqsError(500, 'com.amazonaws.sqs#InternalFailure', 'InternalFailure', 'We encountered an internal error. Please try again.', 'Receiver');
    case 'unavailable':
      return sqsError(503, 'com.amazonaws.sqs#ServiceUnavailable', 'ServiceUnavailable', 'Service Unavailable', 'Receiver');
    case 'access-denied':
      return sqsError(403, 'com.amazon.coral.service#AccessDeniedException', 'AccessDenied', `not authorized to perform: ${action}`);
    case 'expired-token':
      return sqsError(403, 'com.amazon.coral.service#ExpiredTokenException', 'ExpiredToken', 'The security token included in the request is expired');
    default:
      return sqsError(
        403,
        'com.amazon.coral.service#UnrecognizedClientException',
        'InvalidClientTokenId',
        'The security token included in the request is invalid.',
      );
  }
}

// eslint-disable-next-line no-control-regex
const INVALID_CHARACTERS = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export class SandboxQueues {
  readonly #queues = new Map<string, Queue>();
  readonly #waiters = new Set<() => void>();
  #baseUrl = '';
  #closed = false;

  setBaseUrl(url: string): void {
    this.#baseUrl = url;
  }

  /** Creates a queue (or returns the one of that name) and gives its URL, as SQS names it:
   *  <endpoint>/<account>/<name>. */
  create(name: string, options: { account?: string; region?: string; visibilityTimeoutSeconds?: number } = {}): string {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new Error(`not an SQS queue name: ${name}`);
    const account = options.account ?? '111122223333';
    const url = `${this.#baseUrl}/${account}/${name}`;
    if (!this.#queues.has(url)) {
      this.#queues.set(url, {
        url,
        account,
        region: options.region ?? 'us-east-1',
        name,
        visibilityTimeoutS: options.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_S,
        messages: [],
      });
    }
    return url;
  }

  /** Puts a message on a queue, as EventBridge's SQS target does; returns its MessageId. */
  send(url: string, body: string): string {
    const queue = this.#queues.get(url);
    if (!queue) throw new Error(`no sandbox queue ${url}`);
    return this.#enqueue(queue, body);
  }

  depth(url: string): QueueDepth {
    const queue = this.#queues.get(url);
    if (!queue) throw new Error(`no sandbox queue ${url}`);
    const now = Date.now();
    return { visible: queue.messages.filter((m) => m.visibleAt <= now).length, inFlight: queue.messages.filter((m) => m.visibleAt > now).length };
  }

  #enqueue(queue: Queue, body: string): string {
    const message: StoredMessage = {
      id: randomUUID(),
      body,
      md5: createHash('md5').update(body, 'utf8').digest('hex'),
      sentAt: Date.now(),
      receiveCount: 0,
      visibleAt: Date.now(),
    };
    queue.messages.push(message);
    for (const wake of [...this.#waiters]) wake();
    return message.id;
  }

  /** The queue a request's QueueUrl names, in the region its signature is scoped to. */
  #queue(input: Record<string, unknown>, region: string): Queue {
    const url = input.QueueUrl;
    if (url === undefined) throw missingParameter('QueueUrl');
    if (typeof url !== 'string') throw invalidParameter('QueueUrl', url, 'Must be a string.');
    const queue = this.#queues.get(url.replace(/\/$/, ''));
    if (!queue || queue.region !== region) throw noQueue();
    return queue;
  }

  /** Long polling: until a message is visible, `waitS` has passed, or the sandbox closes. */
  async waitForMessages(body: Buffer, authorization: string | undefined): Promise<void> {
    let input: Record<string, unknown>;
    let queue: Queue;
    try {
      input = parseJsonBody(body, 'SerializationException');
      queue = this.#queue(input, requireScope(authorization, 'sqs').region);
    } catch {
      return; // the handler answers the error
    }
    const waitS = input.WaitTimeSeconds;
    if (typeof waitS !== 'number' || !Number.isInteger(waitS) || waitS <= 0 || waitS > 20) return;
    const until = Date.now() + waitS * 1000;
    while (!this.#closed && Date.now() < until && !queue.messages.some((m) => m.visibleAt <= Date.now())) {
      const next = Math.min(until, ...queue.messages.map((m) => m.visibleAt));
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(1, next - Date.now()));
        this.#waiters.add(wake);
      });
    }
  }

  handle(op: string, authorization: string | undefined, body: Buffer): Outgoing {
    const scope = requireScope(authorization, 'sqs');
    const input = parseJsonBody(body, 'SerializationException');
    switch (op) {
      case 'SendMessage':
        return this.#sendMessage(input, scope.region);
      case 'ReceiveMessage':
        return this.#receiveMessage(input, scope.region);
      case 'DeleteMessage':
        return this.#deleteMessage(input, scope.region);
      case 'GetQueueUrl':
        return this.#getQueueUrl(input, scope.region);
      default:
        throw sqsError(400, 'com.amazonaws.sqs#UnsupportedOperation', 'AWS.SimpleQueueService.UnsupportedOperation', `The sandbox does not emulate SQS ${op}.`);
    }
  }

  #sendMessage(input: Record<string, unknown>, region: string): Outgoing {
    const queue = this.#queue(input, region);
    const body = input.MessageBody;
    if (body === undefined) throw missingParameter('MessageBody');
    if (typeof body !== 'string' || body.length === 0) throw invalidParameter('MessageBody', body, 'Must be a non-empty string.');
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) throw invalidParameter('MessageBody', '(body)', `Message must be shorter than ${MAX_BODY_BYTES} bytes.`);
    if (INVALID_CHARACTERS.test(body))
      throw sqsError(400, 'com.amazonaws.sqs#InvalidMessageContents', 'InvalidMessageContents', 'Invalid characters found. Deleting message.');
    const id = this.#enqueue(queue, body);
    const stored = queue.messages[queue.messages.length - 1]!;
    return json(200, { MessageId: id, MD5OfMessageBody: stored.md5 }, CONTENT_TYPE);
  }

  #receiveMessage(input: Record<string, unknown>, region: string): Outgoing {
    const queue = this.#queue(input, region);
    const max = intParameter(input, 'MaxNumberOfMessages', 1, 10, 1, 'Must be between 1 and 10, if provided.');
    intParameter(input, 'WaitTimeSeconds', 0, 20, 0, 'Must be >= 0 and <= 20, if provided.');
    const visibilityS = intParameter(input, 'VisibilityTimeout', 0, 43_200, queue.visibilityTimeoutS, 'Must be between 0 and 43200, if provided.');
    const wanted = new Set([...stringList(input.AttributeNames), ...stringList(input.MessageSystemAttributeNames)]);
    const now = Date.now();
    const taken = queue.messages.filter((m) => m.visibleAt <= now).slice(0, max);
    const messages = taken.map((m) => {
      m.receiveCount++;
      m.visibleAt = now + visibilityS * 1000;
      m.handle = `${Buffer.from(`${queue.url}\n${m.id}\n${randomUUID()}`).toString('base64')}`;
      const attributes: Record<string, string> = {};
      if (wanted.has('All') || wanted.has('ApproximateReceiveCount')) attributes.ApproximateReceiveCount = String(m.receiveCount);
      if (wanted.has('All') || wanted.has('SentTimestamp')) attributes.SentTimestamp = String(m.sentAt);
      return {
        MessageId: m.id,
        ReceiptHandle: m.handle,
        MD5OfBody: m.md5,
        Body: m.body,
        ...(Object.keys(attributes).length > 0 && { Attributes: attributes }),
      };
    });
    // SQS leaves Messages out when there are none.
    return json(200, messages.length > 0 ? { Messages: messages } : {}, CONTENT_TYPE);
  }

  #deleteMessage(input: Record<string, unknown>, region: string): Outgoing {
    const queue = this.#queue(input, region);
    const handle = input.ReceiptHandle;
    if (handle === undefined) throw missingParameter('ReceiptHandle');
    const invalid = () =>
      sqsError(
        404,
        'com.amazonaws.sqs#ReceiptHandleIsInvalid',
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${typeof handle === 'string' ? handle : JSON.stringify(handle)}" is not a valid receipt handle.`,
      );
    if (typeof handle !== 'string') throw invalid();
    const [url, id] = Buffer.from(handle, 'base64').toString('utf8').split('\n');
    if (url !== queue.url || id === undefined) throw invalid();
    const index = queue.messages.findIndex((m) => m.id === id);
    if (index >= 0 && queue.messages[index]!.handle === handle) queue.messages.splice(index, 1);
    return json(200, {}, CONTENT_TYPE);
  }

  #getQueueUrl(input: Record<string, unknown>, region: string): Outgoing {
    const name = input.QueueName;
    if (name === undefined) throw missingParameter('QueueName');
    const owner = typeof input.QueueOwnerAWSAccountId === 'string' ? input.QueueOwnerAWSAccountId : undefined;
    const queue = [...this.#queues.values()].find((q) => q.name === name && q.region === region && (owner === undefined || q.account === owner));
    if (!queue) throw noQueue();
    return json(200, { QueueUrl: queue.url }, CONTENT_TYPE);
  }

  close(): void {
    this.#closed = true;
    for (const wake of [...this.#waiters]) wake();
  }
}

function intParameter(input: Record<string, unknown>, name: string, min: number, max: number, dflt: number, reason: string): number {
  const v = input[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalidParameter(name, v, reason);
  return v;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
