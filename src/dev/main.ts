#!/usr/bin/env node
// The checkout's entry: every product command, plus the development commands `demo` and
// `sandbox` (the AWS sandbox and its sample world, which the product build does not carry).
// `make demo` runs `node src/dev/main.ts demo`.
import { errorMessage } from '../support/errors.ts';
import { exitCodeOf, run, type DevCommands } from '../cli/run.ts';

const dev: DevCommands = {
  async demo(options, env, print) {
    const { demo } = await import('./cli/demo.ts');
    return demo(options, env, print);
  },
  async sandbox(options, print) {
    const { runSandbox } = await import('./cli/sandbox.ts');
    return runSandbox(options, print);
  },
};

run(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`), dev).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ecr-admission: ${errorMessage(err)}\n`);
    process.exitCode = exitCodeOf(err);
  },
);
