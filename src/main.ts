#!/usr/bin/env node
// Entry point: the only module that reads process.env, writes to the terminal or exits.
import { pino } from 'pino';
import { parseCommandLine, USAGE } from './config/args.ts';
import { AdmissionError, ErrorCodes, errorMessage } from './errors.ts';
// Commands are imported when run: the AWS SDK and Fastify take a second or more to load,
// which `--help` and `version` need not pay.

const VERSION = '0.1.0';

async function main(argv: string[]): Promise<number> {
  const env = process.env;
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const command = parseCommandLine(argv, env);
  switch (command.command) {
    case 'help':
      print(USAGE);
      return 0;
    case 'version':
      print(VERSION);
      return 0;
    case 'check': {
      // The CLI's stdout is its answer; logs go to stderr and only when something is wrong.
      const logger = pino({ level: env.ECR_ADMISSION_LOG_LEVEL ?? 'warn' }, pino.destination(2));
      const { check } = await import('./cli/check.ts');
      return check(command, env, logger, print);
    }
    case 'demo': {
      const { demo } = await import('./cli/demo.ts');
      return demo(command, env, print);
    }
    case 'sandbox': {
      const { runSandbox } = await import('./cli/sandbox.ts');
      return runSandbox(command, print);
    }
    case 'serve': {
      // No redaction paths: log lines are built field by field (server/log-line.ts) and never
      // carry headers, tokens or objects, and wildcard redaction cost ~5 µs per admission.
      const logger = pino({ level: command.logLevel, base: { service: 'ecr-admission' } });
      const { serve } = await import('./cli/serve.ts');
      const server = await serve(command, env, logger, print);
      return new Promise((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, 'shutting down: finishing in-flight reviews');
          server.close().then(() => resolve(0), (err: unknown) => { logger.error({ err: errorMessage(err) }, 'shutdown failed'); resolve(1); });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    const usage = err instanceof AdmissionError && (err.code === ErrorCodes.USAGE || err.code === ErrorCodes.CONFIG_INVALID || err.code === ErrorCodes.CONFIG_READ || err.code === ErrorCodes.TLS_INVALID);
    process.stderr.write(`ecr-admission: ${errorMessage(err)}\n`);
    process.exitCode = usage ? 2 : 1;
  },
);
