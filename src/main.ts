#!/usr/bin/env node
// The product's entry: the only module that reads process.env, writes to the terminal or
// exits. Development commands (demo, sandbox) live in src/dev/main.ts, which a checkout has
// and the container image does not.
import { errorMessage } from './support/errors.ts';
import { exitCodeOf, run } from './cli/run.ts';

run(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ecr-admission: ${errorMessage(err)}\n`);
    process.exitCode = exitCodeOf(err);
  },
);
