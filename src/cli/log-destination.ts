// Where `serve` writes its log: stdout, asynchronously. A synchronous write per admission cost
// the warm path a system call each (bench/README.md, issue 18); lines are gathered and written
// in batches off the request path, what waits is bounded, and a clean stop writes out every
// line before the process exits.
//
// Our own batcher, not pino.destination (sonic-boom): sonic-boom appends each line to a string
// of up to maxWrite bytes and measures that whole string with Buffer.byteLength on every write,
// so a line cost a scan (and flattening) of the batch before it: about 15 µs per admission at a
// 32 KiB batch, measured side by side over TLS (bench/README.md). Here a line is pushed to an
// array and its length added to a counter; the batch is joined once, when it is written.
import { write as fsWrite, writeSync } from 'node:fs';

/** Lines are written once this many characters are waiting, or at the latest after FLUSH_MS. */
const BATCH_CHARS = 32 * 1024;
const FLUSH_MS = 200;
/** A write refused with EAGAIN (a non-blocking pipe that is full) is tried again after this. */
const RETRY_MS = 50;
/** Past this many characters waiting (stdout not keeping up), new lines are dropped and
 *  counted rather than growing the heap of a process with a 128 MiB old space. */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;

/** What pino writes to: any object with write(string) (pino's DestinationStream). */
export interface LineSink {
  write(line: string): boolean;
}

export interface LogDestination {
  readonly stream: LineSink;
  /** Lines dropped because the buffer was full, or because the file descriptor failed. */
  dropped(): number;
  /** Writes out every buffered line; resolves once they are written (or could not be). */
  flush(): Promise<void>;
}

export interface LogDestinationOptions {
  readonly batchChars?: number;
  readonly maxBufferedChars?: number;
  readonly flushMs?: number;
}

/** The synchronous last writes of every destination, run by one 'exit' listener. */
const onExit = new Set<() => void>();
process.once('exit', () => {
  for (const flushSync of onExit) flushSync();
});

export function asyncLogDestination(fd = 1, options: LogDestinationOptions = {}): LogDestination {
  const batchChars = options.batchChars ?? BATCH_CHARS;
  const maxBuffered = options.maxBufferedChars ?? LOG_BUFFER_MAX_BYTES;
  let lines: string[] = [];
  let queuedChars = 0;
  /** The batch being written: its bytes and how many of them are written already. */
  let inFlight: { bytes: Buffer; written: number; lines: number } | undefined;
  let failed = false;
  let dropped = 0;
  let waiters: Array<() => void> = [];

  const settleWaiters = () => {
    if (inFlight || lines.length > 0) return;
    const done = waiters;
    waiters = [];
    for (const resolve of done) resolve();
  };

  const giveUp = () => {
    // The descriptor is gone (EPIPE, EBADF): nothing more can be written; count what is lost.
    failed = true;
    dropped += (inFlight?.lines ?? 0) + lines.length;
    inFlight = undefined;
    lines = [];
    queuedChars = 0;
    settleWaiters();
  };

  const writeRest = () => {
    const batch = inFlight!;
    fsWrite(fd, batch.bytes, batch.written, batch.bytes.length - batch.written, null, (err, n) => {
      if (err) {
        if (err.code === 'EAGAIN') return void setTimeout(writeRest, RETRY_MS);
        return giveUp();
      }
      batch.written += n;
      if (batch.written < batch.bytes.length) return writeRest(); // a partial write: the rest
      inFlight = undefined;
      if (lines.length > 0) start();
      else settleWaiters();
    });
  };

  const start = () => {
    if (inFlight || failed || lines.length === 0) return;
    inFlight = { bytes: Buffer.from(lines.join('')), written: 0, lines: lines.length };
    lines = [];
    queuedChars = 0;
    writeRest();
  };

  const timer = setInterval(start, options.flushMs ?? FLUSH_MS);
  timer.unref();

  // A process that ends some other way (an uncaught exception, process.exit) still writes what
  // it holds, synchronously: the lines not yet handed to a write (the batch in flight is being
  // written by the thread pool and is not written twice).
  onExit.add(() => {
    if (failed || lines.length === 0) return;
    try {
      writeSync(fd, lines.join(''));
    } catch {
      // Nowhere left to report it: the process is exiting.
    }
    lines = [];
  });

  return {
    stream: {
      write(line: string): boolean {
        if (failed || queuedChars + line.length > maxBuffered) {
          dropped++;
          return false;
        }
        lines.push(line);
        queuedChars += line.length;
        if (queuedChars >= batchChars) start();
        return true;
      },
    },
    dropped: () => dropped,
    flush: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        start();
        settleWaiters();
      }),
  };
}
