// Runs one command line and answers its exit code: 0 done (or allowed), 1 denied or failed,
// 2 usage or configuration error. The entries (src/main.ts for the product, src/dev/main.ts
// for a checkout) are the only modules that read process.env, write to the terminal or exit.
import { pino } from 'pino';
import { writeSync } from 'node:fs';
import { parseCommandLine, USAGE, type DemoOptions, type SandboxOptions } from './args.ts';
import { AdmissionError, ErrorCodes, errorMessage } from '../support/errors.ts';
import { asyncLogDestination, flushWithin } from './log-destination.ts';
// Commands are imported when run: the AWS SDK and Fastify take a second or more to load,
// which `--help` and `version` need not pay.

export const VERSION = '0.1.0';

/** Development commands, which only a checkout has (src/dev/ is not in the product build). */
export interface DevCommands {
  demo(options: DemoOptions, env: NodeJS.ProcessEnv, print: (line: string) => void): Promise<number>;
  sandbox(options: SandboxOptions, print: (line: string) => void): Promise<number>;
}

/** How long a clean stop waits for the log to be written (Kubernetes gives a Pod 30 s by default). */
const LOG_FLUSH_AT_STOP_MS = 5_000;

const NOT_IN_THIS_BUILD = 'is a development command, not part of this build: from a checkout run `make demo`, or `node src/dev/main.ts demo|sandbox`';

export async function run(argv: string[], env: NodeJS.ProcessEnv, print: (line: string) => void, dev?: DevCommands): Promise<number> {
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
      const { check } = await import('./check.ts');
      return check(command, env, logger, print);
    }
    case 'audit': {
      // The table or JSON on stdout; progress lines and logs on stderr.
      const stderr = pino.destination(2);
      const logger = pino({ level: env.ECR_ADMISSION_LOG_LEVEL ?? 'warn' }, stderr);
      const { audit } = await import('./audit.ts');
      return audit(command, env, logger, print, (line) => stderr.write(`${line}\n`));
    }
    case 'pin': {
      const logger = pino({ level: env.ECR_ADMISSION_LOG_LEVEL ?? 'warn' }, pino.destination(2));
      const { pin } = await import('./pin.ts');
      return pin(command, env, logger, print, (line) => writeSync(2, `${line}\n`));
    }
    case 'demo':
      if (!dev) throw new AdmissionError(ErrorCodes.USAGE, `demo ${NOT_IN_THIS_BUILD}`);
      return dev.demo(command, env, print);
    case 'sandbox':
      if (!dev) throw new AdmissionError(ErrorCodes.USAGE, `sandbox ${NOT_IN_THIS_BUILD}`);
      return dev.sandbox(command, print);
    case 'controller': {
      const logger = pino({ level: command.logLevel, base: { service: 'ecr-admission-controller' } });
      const { runController } = await import('./controller.ts');
      const running = await runController(command, env, logger);
      return new Promise((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, 'shutting down: releasing the lease');
          running.close().then(
            () => resolve(0),
            (err: unknown) => {
              logger.error({ err: errorMessage(err) }, 'shutdown failed');
              resolve(1);
            },
          );
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    }
    case 'serve': {
      // No redaction paths: log lines are built field by field (server/log-line.ts) and never
      // carry headers, tokens or objects, and wildcard redaction cost ~5 µs per admission.
      // Written asynchronously in batches (log-destination.ts); flushed before a clean exit.
      const logs = asyncLogDestination();
      const logger = pino({ level: command.logLevel, base: { service: 'ecr-admission' } }, logs.stream);
      const { serve } = await import('./serve.ts');
      const server = await serve(command, env, logger, print, { logLinesDropped: () => logs.dropped() }).catch(async (err: unknown) => {
        await flushWithin(logs, LOG_FLUSH_AT_STOP_MS);
        throw err;
      });
      return new Promise((resolve) => {
        const exit = async (code: number) => {
          if (logs.dropped() > 0) logger.warn({ dropped: logs.dropped() }, 'log lines dropped: stdout did not keep up');
          await flushWithin(logs, LOG_FLUSH_AT_STOP_MS);
          resolve(code);
        };
        const stop = (signal: string) => {
          logger.info({ signal }, 'shutting down: finishing in-flight reviews');
          server.close().then(
            () => exit(0),
            (err: unknown) => {
              logger.error({ err: errorMessage(err) }, 'shutdown failed');
              return exit(1);
            },
          );
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    }
  }
}

/** The exit code for an error that escaped a command: 2 for usage and configuration. */
export function exitCodeOf(err: unknown): number {
  const usage =
    err instanceof AdmissionError &&
    (err.code === ErrorCodes.USAGE || err.code === ErrorCodes.CONFIG_INVALID || err.code === ErrorCodes.CONFIG_READ || err.code === ErrorCodes.TLS_INVALID);
  return usage ? 2 : 1;
}
