// A process that logs through serve's destination (src/cli/log-destination.ts) to its stdout and
// then dies without a clean stop: `node log-exit-child.ts COUNT throw|exit DELAY_MS`. Used by
// test/cli/log-destination.test.ts.
import { asyncLogDestination } from '../../src/cli/log-destination.ts';

const [count, how, delay] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4] ?? 0)];
const logs = asyncLogDestination(1, { batchChars: 16 * 1024, flushMs: 20 });
for (let i = 0; i < count; i++) logs.stream.write(`${JSON.stringify({ n: i, pad: 'x'.repeat(100 + (i % 200)) })}\n`);
setTimeout(() => {
  if (how === 'throw') throw new Error('an uncaught exception');
  process.exit(3);
}, delay);
