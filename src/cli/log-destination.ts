// Where `serve` writes its log: stdout, asynchronously. A synchronous write per admission cost
// the warm path a system call each (bench/README.md, issue 18); lines are now gathered in a
// buffer and written in batches off the request path, the buffer is bounded, and a clean stop
// writes out every line before the process exits.
import { pino } from 'pino';

/** Lines are written once this many bytes are waiting, or at the latest after FLUSH_MS. */
const BATCH_BYTES = 32 * 1024;
/** One write's most bytes (sonic-boom's maxWrite, 16 KiB by default, must exceed the batch). */
const MAX_WRITE_BYTES = 64 * 1024;
const FLUSH_MS = 200;
/** Past this many bytes waiting (stdout not keeping up), new lines are dropped and counted
 *  rather than growing the heap of a process with a 128 MiB old space. */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;

export interface LogDestination {
  readonly stream: ReturnType<typeof pino.destination>;
  /** Lines dropped because the buffer was full. */
  dropped(): number;
  /** Writes out every buffered line; resolves once they are written. */
  flush(): Promise<void>;
}

export function asyncLogDestination(fd = 1): LogDestination {
  const stream = pino.destination({
    dest: fd,
    sync: false,
    minLength: BATCH_BYTES,
    maxWrite: MAX_WRITE_BYTES,
    maxLength: LOG_BUFFER_MAX_BYTES,
    periodicFlush: FLUSH_MS,
  });
  let dropped = 0;
  stream.on('drop', () => {
    dropped++;
  });
  // A process that ends some other way (an uncaught exception, process.exit) still writes what
  // it holds: pino.destination registers a synchronous flush on 'exit' (pino lib/tools.js autoEnd).
  return {
    stream,
    dropped: () => dropped,
    flush: () =>
      new Promise<void>((resolve) => {
        // An error here (the stream already closed) leaves nothing more that could be written.
        stream.flush(() => resolve());
      }),
  };
}
