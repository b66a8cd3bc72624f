// Where `serve` writes its log: stdout, asynchronously. A synchronous write per admission cost
// the warm path a system call each (bench/README.md, issue 18); lines are gathered and written
// in batches off the request path, what waits is bounded, and a clean stop writes out every
// line before the process exits.
//
// Our own batcher, not pino.destination (sonic-boom): sonic-boom appends each line to a string
// of up to maxWrite bytes and measures that whole string with Buffer.byteLength on every write,
// so a line cost a scan (and flattening) of the batch before it: about 15 µs per admission at a
// 32 KiB batch, measured side by side over TLS (bench/README.md). Here a line is pushed to an
// array and its length added to a counter; a batch is joined once, when it is written.
import { write as fsWrite, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Lines are written once this many characters are waiting, or at the latest after FLUSH_MS. */
const BATCH_CHARS = 32 * 1024;
const FLUSH_MS = 200;
/** One write holds at most this many characters of lines (up to 3 bytes each in UTF-8): after
 *  a stall, the backlog goes out in pieces rather than as one buffer of all of it. */
const WRITE_MAX_CHARS = 1024 * 1024;
/** A write refused with EAGAIN (a non-blocking pipe that is full) is tried again after this. */
const RETRY_MS = 50;
/** Past this many characters held (waiting or being written: stdout not keeping up), new lines
 *  are dropped and counted rather than growing the heap of a process with a 128 MiB old space.
 *  Characters, not bytes: at most 2 bytes each in the heap (V8's two-byte strings), so 16 MiB. */
export const LOG_BUFFER_MAX_CHARS = 8 * 1024 * 1024;
/** The errno of a write to a full non-blocking pipe (Node's error.code): try again later. */
const TRY_AGAIN = 'EAGAIN';
/** Errnos after which the descriptor can never be written again: the reader is gone (EPIPE),
 *  the descriptor is closed or not writable (EBADF), or does not take writes (EINVAL). Any
 *  other failure (ENOSPC on a full disk, EIO) may pass: the batch is kept and tried again after
 *  ERROR_RETRY_MS, the lines behind it wait within the bound, so a fault that passes before the
 *  bound fills (and before the process exits) costs no line (attacker review, issue 18: one
 *  ENOSPC had switched the log off for good). */
const BROKEN_PIPE = 'EPIPE';
const BAD_DESCRIPTOR = 'EBADF';
const NOT_WRITABLE = 'EINVAL';
const PERMANENT_ERRORS: ReadonlySet<string> = new Set([BROKEN_PIPE, BAD_DESCRIPTOR, NOT_WRITABLE]);
const ERROR_RETRY_MS = 1_000;
/** How long the synchronous write at exit keeps trying a full pipe (EAGAIN). */
const EXIT_WRITE_MS = 1_000;

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
  readonly writeMaxChars?: number;
  readonly flushMs?: number;
  /** How long a batch waits after a write failed with an error that may pass (default 1 s). */
  readonly errorRetryMs?: number;
  /** fs.write, or a stand-in for tests that need a descriptor to fail and then recover. */
  readonly write?: typeof fsWrite;
}

/** The synchronous last writes of every destination, run by one 'exit' listener. */
const onExit = new Set<() => void>();
process.once('exit', () => {
  for (const flushSync of onExit) flushSync();
});

/** Writes all of `bytes` synchronously, through partial writes and, for a while, EAGAIN. */
function writeAllSync(fd: number, bytes: Buffer): boolean {
  const giveUpAt = Date.now() + EXIT_WRITE_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== TRY_AGAIN || Date.now() >= giveUpAt) return false;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
  return true;
}

export function asyncLogDestination(fd = 1, options: LogDestinationOptions = {}): LogDestination {
  const batchChars = options.batchChars ?? BATCH_CHARS;
  const maxBuffered = options.maxBufferedChars ?? LOG_BUFFER_MAX_CHARS;
  const writeMax = options.writeMaxChars ?? WRITE_MAX_CHARS;
  const errorRetryMs = options.errorRetryMs ?? ERROR_RETRY_MS;
  const writeAsync = options.write ?? fsWrite;
  let lines: string[] = [];
  let queuedChars = 0;
  /** The batch being written: its bytes, how many of them are written, what it holds. */
  let inFlight: { bytes: Buffer; written: number; lines: number; chars: number } | undefined;
  /** An fs.write of the batch is outstanding (in the thread pool): nothing else may write. */
  let writing = false;
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
    // The descriptor is gone (PERMANENT_ERRORS): nothing more can be written; count what is lost.
    failed = true;
    dropped += (inFlight?.lines ?? 0) + lines.length;
    inFlight = undefined;
    lines = [];
    queuedChars = 0;
    settleWaiters();
  };

  const writeRest = () => {
    const batch = inFlight!;
    writing = true;
    writeAsync(fd, batch.bytes, batch.written, batch.bytes.length - batch.written, null, (err, n) => {
      writing = false;
      if (err) {
        if (err.code !== undefined && PERMANENT_ERRORS.has(err.code)) return giveUp();
        // Unreferenced: a stdout that stays full or failing does not keep a stopping process
        // alive (the exit handler then tries once more, and says what is lost).
        return void setTimeout(writeRest, err.code === TRY_AGAIN ? RETRY_MS : errorRetryMs).unref();
      }
      // Nothing written, and no error: asked again after a pause, not at once in a loop.
      if (n === 0) return void setTimeout(writeRest, RETRY_MS).unref();
      batch.written += n;
      if (batch.written < batch.bytes.length) return writeRest(); // a partial write: the rest
      inFlight = undefined;
      if (lines.length > 0) start();
      else settleWaiters();
    });
  };

  const start = () => {
    if (inFlight || failed || lines.length === 0) return;
    // At most writeMax characters per write (a single longer line goes alone).
    let count = 0;
    let chars = 0;
    while (count < lines.length && (count === 0 || chars + lines[count]!.length <= writeMax)) chars += lines[count++]!.length;
    const batch = count === lines.length ? lines : lines.slice(0, count);
    lines = count === lines.length ? [] : lines.slice(count);
    queuedChars -= chars;
    inFlight = { bytes: Buffer.from(batch.join('')), written: 0, lines: count, chars };
    writeRest();
  };

  const timer = setInterval(start, options.flushMs ?? FLUSH_MS);
  timer.unref();

  // A process that ends some other way (an uncaught exception, process.exit) still writes what
  // it holds, synchronously: the rest of the batch in flight, then the lines waiting. Not while
  // the thread pool is writing that batch: the two writes could interleave and split a line,
  // so then what is left is lost (and said on stderr).
  onExit.add(() => {
    clearInterval(timer);
    if (failed || (!inFlight && lines.length === 0)) return;
    const held = (inFlight?.lines ?? 0) + lines.length;
    const rest = [inFlight && !writing ? inFlight.bytes.subarray(inFlight.written) : undefined, Buffer.from(lines.join(''))];
    const written = !writing && rest.every((b) => b === undefined || writeAllSync(fd, b));
    lines = [];
    if (!written) {
      try {
        writeSync(2, `ecr-admission: up to ${held} log lines could not be written to stdout at exit\n`);
      } catch {
        // Nowhere left to say it.
      }
    }
  });

  return {
    stream: {
      write(line: string): boolean {
        if (failed || queuedChars + (inFlight?.chars ?? 0) + line.length > maxBuffered) {
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

/** Waits for `logs` to be written, at most `ms`. The wait holds the event loop: a stdout that
 *  stays full or failing retries on an unreferenced timer, so without it a stopping process
 *  would end as soon as nothing else is pending, with exit code 0 and before a start-up error
 *  is printed (attacker review, issue 18). Past the bound (a reader of stdout that stopped
 *  reading without closing, a disk that stays full) what is left is lost, and said on stderr
 *  at exit. */
export async function flushWithin(logs: LogDestination, ms: number): Promise<void> {
  const bound = new AbortController();
  try {
    await Promise.race([logs.flush(), sleep(ms, undefined, { signal: bound.signal })]);
  } finally {
    bound.abort();
  }
}
