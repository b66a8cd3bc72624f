// The sandbox's SQS (AWS JSON 1.0) through the real @aws-sdk/client-sqs: send, long-poll
// receive, delete by the latest receipt handle, visibility timeout, and SQS's errors as the SDK
// names them.
import t from 'tap';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startSandbox } from '../../../src/dev/sandbox/index.ts';
import { SANDBOX_CREDENTIALS } from '../../helpers/harness.ts';

const fixture = { defaultAccount: '111122223333', accounts: {} };

t.test('send, long poll, delete; visibility; errors', async (t) => {
  const sb = await startSandbox({ fixture });
  t.teardown(() => sb.close());
  const url = sb.queues.create('events', { visibilityTimeoutSeconds: 1 });
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: sb.url, credentials: SANDBOX_CREDENTIALS, maxAttempts: 1 });
  t.teardown(() => sqs.destroy());

  t.equal((await sqs.send(new GetQueueUrlCommand({ QueueName: 'events' }))).QueueUrl, url);
  const empty = Date.now();
  t.same((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }))).Messages, undefined, 'no message: none returned');
  t.ok(Date.now() - empty >= 900, 'a long poll waits for its WaitTimeSeconds');

  // A message sent while a receive is waiting ends the wait.
  const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 10, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }));
  setTimeout(() => sb.queues.send(url, '{"hello":"world"}'), 100);
  const started = Date.now();
  const got = await waiting;
  t.ok(Date.now() - started < 5000, 'the long poll returned when the message came');
  t.equal(got.Messages?.length, 1);
  const first = got.Messages![0]!;
  t.equal(first.Body, '{"hello":"world"}');
  t.equal(first.Attributes?.ApproximateReceiveCount, '1');
  t.same(sb.queues.depth(url), { visible: 0, inFlight: 1 });

  // Not deleted: back after the visibility timeout, with a new receipt handle.
  const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 3 }));
  t.equal(again.Messages?.[0]?.MessageId, first.MessageId);
  t.not(again.Messages?.[0]?.ReceiptHandle, first.ReceiptHandle);
  await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first.ReceiptHandle! }));
  t.same(sb.queues.depth(url), { visible: 0, inFlight: 1 }, 'an older receipt handle deletes nothing');
  await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: again.Messages![0]!.ReceiptHandle! }));
  t.same(sb.queues.depth(url), { visible: 0, inFlight: 0 }, 'the latest one deletes it');
  await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: again.Messages![0]!.ReceiptHandle! }));
  t.pass('deleting it twice succeeds');

  const sent = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
  t.match(sent.MD5OfMessageBody, /^[0-9a-f]{32}$/);

  await t.rejects(sqs.send(new ReceiveMessageCommand({ QueueUrl: `${sb.url}/111122223333/nope` })), { name: 'QueueDoesNotExist' });
  await t.rejects(sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 11 })), {
    name: 'InvalidParameterValue',
    message: /Value 11 for parameter MaxNumberOfMessages is invalid/,
  });
  await t.rejects(sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 21 })), { name: 'InvalidParameterValue' });
  await t.rejects(sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: 'forged' })), {
    name: 'ReceiptHandleIsInvalid',
    $metadata: { httpStatusCode: 404 },
  });
  await t.rejects(sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'bad \u0001 byte' })), { name: 'InvalidMessageContents' });
  const west = new SQSClient({ region: 'us-west-2', endpoint: sb.url, credentials: SANDBOX_CREDENTIALS, maxAttempts: 1 });
  t.teardown(() => west.destroy());
  await t.rejects(west.send(new ReceiveMessageCommand({ QueueUrl: url })), { name: 'QueueDoesNotExist' }, 'a queue lives in its region');
  sb.inject('sqs:ReceiveMessage', { kind: 'throttle' });
  await t.rejects(sqs.send(new ReceiveMessageCommand({ QueueUrl: url })), { name: 'RequestThrottled' });
  t.ok(sb.calls('sqs:ReceiveMessage') >= 5, 'calls are logged under sqs:<Op>');
});
