#!/usr/bin/env node
// The product's entry: the only module that reads process.env, writes to the terminal or
// exits. Development commands (demo, sandbox) live in src/dev/main.ts, which a checkout has
// and the container image does not.
import { errorMessage } from './support/errors.ts';
import { exitCodeOf, run } from './cli/run.ts';

// A stdout that fails (its reader gone, a full disk) must not end the process with an unhandled
// 'error' event: what `print` writes there is informational (the serving CA, `check`'s report),
// and `serve`'s log has its own destination, which counts what it loses. Said once on stderr.
let stdoutFailed = false;
process.stdout.on('error', (err: Error) => {
  if (stdoutFailed) return;
  stdoutFailed = true;
  process.stderr.write(`ecr-admission: stdout failed, nothing more is printed there: ${errorMessage(err)}\n`);
});

run(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ecr-admission: ${errorMessage(err)}\n`);
    process.exitCode = exitCodeOf(err);
  },
);
