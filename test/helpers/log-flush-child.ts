// A process whose log cannot be written (its stdout is /dev/full: every write fails with
// ENOSPC, retried on an unreferenced timer) and which then stops as `serve` does, waiting for
// the log at most a bound: `node log-flush-child.ts`. It must still reach its own exit code and
// message. Used by test/cli/log-destination.test.ts.
import { asyncLogDestination, flushWithin } from '../../src/cli/log-destination.ts';

const logs = asyncLogDestination(1, { batchChars: 16 * 1024, flushMs: 20, errorRetryMs: 50 });
logs.stream.write(`${JSON.stringify({ msg: 'a line that cannot be written' })}\n`);
await flushWithin(logs, 300);
process.stderr.write('stopped after the bounded wait\n');
process.exitCode = 3;
