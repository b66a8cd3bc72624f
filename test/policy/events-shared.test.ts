// The policy's issue-16 blocks: cache.shared and events are checked at load with the key path
// and line, like every other key, and reach the compiled policy.
import t from 'tap';
import { parsePolicy } from '../../src/policy/load.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { ErrorCodes } from '../../src/support/errors.ts';

const refused = (text: string): string => {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === ErrorCodes.CONFIG_INVALID) return e.message;
    throw err;
  }
  return '';
};

t.test('accepted, with defaults', async (t) => {
  const loaded = parsePolicy(
    'cache:\n  shared:\n    url: rediss://cache.internal:6379/2\nevents:\n  sqsQueueUrl: https://sqs.eu-west-1.amazonaws.com/111122223333/q\n',
    'p.yaml',
  );
  const { policy } = loaded;
  t.same(policy.cache.shared, { url: 'rediss://cache.internal:6379/2', opTimeoutMs: 100, lockMs: 5000, keyPrefix: 'ecr-admission:' });
  t.same(policy.events, { sqsQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/111122223333/q', waitTimeSeconds: 20 });
  const compiled = compilePolicy(loaded);
  t.same(compiled.events, policy.events, 'events reach the compiled policy (wiring.ts reads them)');
  t.equal(compiled.cache.shared?.url, 'rediss://cache.internal:6379/2');
  t.equal(compilePolicy(parsePolicy('mode: enforce\n', 'p.yaml')).events, undefined, 'no events block: no poller');
});

t.test('refused with the key and line', async (t) => {
  t.match(refused('cache:\n  shared:\n    url: http://cache:6379\n'), /p\.yaml:3: cache\.shared\.url: must match pattern/);
  t.match(refused('cache:\n  shared:\n    url: redis://c:6379\n    password: hunter2\n'), /password/);
  t.match(refused('cache:\n  shared:\n    url: redis://c:6379\n    opTimeoutMs: 0\n'), /opTimeoutMs/);
  t.match(refused('events:\n  waitTimeSeconds: 5\n'), /sqsQueueUrl/);
  t.match(refused('events:\n  sqsQueueUrl: https://q\n  waitTimeSeconds: 21\n'), /waitTimeSeconds/);
  t.match(refused('events:\n  sqsQueueUrl: https://q\n  region: moon-1\n'), /region/);
});
