// `serve`'s asynchronous log destination (src/cli/log-destination.ts): lines are batched off
// the request path, written whole and in order even when the pipe behind stdout is full
// (EAGAIN, partial writes), bounded while they wait, counted when dropped, and a flush waits
// for every line. Real files and a real FIFO; no fs mocks.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, write as fsWrite } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { asyncLogDestination } from '../../src/cli/log-destination.ts';

const dir = mkdtempSync(join(tmpdir(), 'log-destination-'));
const line = (i: number) => `{"n":${i},"pad":"${'x'.repeat(i % 200)}"}\n`;

/** Both ends of a FIFO, non-blocking: the read end first (a FIFO opened for writing without a
 *  reader fails with ENXIO), read through a paused socket, so the pipe's 64 KiB buffer fills
 *  and the writer meets EAGAIN and short writes until the test starts reading. */
function openFifo(path: string): { reader: Socket; fd: number } {
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  const reader = new Socket({ fd: readFd, readable: true, writable: false });
  reader.pause();
  return { reader, fd };
}

t.test('lines are batched: nothing is written until a batch fills or flush is called, then all in order', async (t) => {
  const path = join(dir, 'batched.log');
  const fd = openSync(path, 'w');
  t.teardown(() => closeSync(fd));
  const logs = asyncLogDestination(fd, { batchChars: 64 * 1024, flushMs: 60_000 });
  for (let i = 0; i < 10; i++) t.ok(logs.stream.write(line(i)), 'accepted');
  await sleep(20);
  t.equal(readFileSync(path, 'utf8'), '', 'a part batch waits (no write per line)');
  await logs.flush();
  const expected = Array.from({ length: 10 }, (_, i) => line(i)).join('');
  t.equal(readFileSync(path, 'utf8'), expected, 'every line, in order, after flush');
  t.equal(logs.dropped(), 0);
  await logs.flush(); // nothing waiting: resolves at once
});

t.test('a full batch is written without a flush; the periodic flush writes the rest', async (t) => {
  const path = join(dir, 'periodic.log');
  const fd = openSync(path, 'w');
  t.teardown(() => closeSync(fd));
  const logs = asyncLogDestination(fd, { batchChars: 1024, flushMs: 50 });
  const lines = Array.from({ length: 100 }, (_, i) => line(i));
  for (const l of lines) logs.stream.write(l);
  await sleep(300);
  t.equal(readFileSync(path, 'utf8'), lines.join(''), 'all written by batches and the timer');
});

t.test('a full non-blocking pipe (EAGAIN, partial writes): every line arrives once and in order', async (t) => {
  const fifo = join(dir, 'slow.fifo');
  execFileSync('mkfifo', [fifo]);
  const { reader, fd } = openFifo(fifo);
  const chunks: Buffer[] = [];
  t.teardown(() => reader.destroy());
  // Writes of at most 8 Ki characters: a backlog goes out in several writes.
  const logs = asyncLogDestination(fd, { batchChars: 16 * 1024, writeMaxChars: 8 * 1024, flushMs: 20 });
  const lines = Array.from({ length: 5000 }, (_, i) => line(i)); // ~0.5 MiB, 8x the pipe
  t.equal(lines.filter((l) => !logs.stream.write(l)).length, 0, 'every line accepted (the buffer holds 16 MiB)');
  await sleep(200); // the pipe is full by now, the writer retrying
  reader.on('data', (c: Buffer) => chunks.push(c));
  reader.resume();
  await logs.flush();
  closeSync(fd);
  await new Promise((resolve) => reader.once('end', resolve));
  t.equal(Buffer.concat(chunks).toString('utf8'), lines.join(''), 'the reader got every byte once, in order');
  t.equal(logs.dropped(), 0);
});

t.test('the buffer is bounded: past the bound lines are dropped and counted, not queued', async (t) => {
  const fifo = join(dir, 'stuck.fifo');
  execFileSync('mkfifo', [fifo]);
  const { reader, fd } = openFifo(fifo); // nobody reads: stdout not keeping up
  t.teardown(() => reader.destroy());
  const logs = asyncLogDestination(fd, { batchChars: 1024, maxBufferedChars: 256 * 1024, flushMs: 10 });
  let refused = 0;
  for (let i = 0; i < 20_000; i++) if (!logs.stream.write(line(i))) refused++;
  t.ok(refused > 0, `lines past the bound are refused (${refused})`);
  t.equal(logs.dropped(), refused, 'and counted');
  closeSync(fd); // the descriptor goes away: the writer gives up on what waits, counting it
  await logs.flush();
  t.ok(logs.dropped() > refused, 'what could not be written any more is counted as dropped');
  t.equal(logs.stream.write(line(1)), false, 'nothing is accepted after the descriptor failed');
});

t.test('a failure that may pass (ENOSPC) keeps the batch and tries again: no line is lost', async (t) => {
  const path = join(dir, 'recovers.log');
  const fd = openSync(path, 'w');
  // /dev/full answers every write with ENOSPC, as a full disk does: the first writes go there
  // (the kernel's own error), then the disk "has room" again and writes reach the file.
  const full = openSync('/dev/full', 'w');
  t.teardown(() => {
    closeSync(fd);
    closeSync(full);
  });
  const errors: string[] = [];
  let failing = 3;
  const write = ((target: number, ...rest: unknown[]) => {
    const callback = rest.at(-1) as (err: NodeJS.ErrnoException | null, n: number) => void;
    if (failing-- > 0) {
      return (fsWrite as (...args: unknown[]) => void)(full, ...rest.slice(0, -1), (err: NodeJS.ErrnoException | null, n: number) => {
        if (err?.code) errors.push(err.code);
        callback(err, n);
      });
    }
    return (fsWrite as (...args: unknown[]) => void)(target, ...rest);
  }) as typeof fsWrite;
  const logs = asyncLogDestination(fd, { batchChars: 1024, flushMs: 10, errorRetryMs: 20, write });
  const lines = Array.from({ length: 50 }, (_, i) => line(i));
  for (const l of lines) t.ok(logs.stream.write(l));
  // The retry timer is unreferenced (a failing stdout must not hold a stopping process): this
  // test holds the event loop while it waits, as a serving process does.
  const hold = setInterval(() => {}, 1000);
  await logs.flush();
  clearInterval(hold);
  t.same(errors, ['ENOSPC', 'ENOSPC', 'ENOSPC'], 'the kernel refused the first three writes');
  t.equal(readFileSync(path, 'utf8'), lines.join(''), 'then every line was written, once and in order');
  t.equal(logs.dropped(), 0, 'none dropped');
  t.ok(logs.stream.write(line(1)), 'and the destination still takes lines');
  await logs.flush();
});

t.test('a stop waits for a failing log at most its bound, then ends with its own exit code', async (t) => {
  const full = openSync('/dev/full', 'w');
  t.teardown(() => closeSync(full));
  const child = spawn(process.execPath, [join(import.meta.dirname, '../helpers/log-flush-child.ts')], { stdio: ['ignore', full, 'pipe'] });
  const err: Buffer[] = [];
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  const started = performance.now();
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const stderr = Buffer.concat(err).toString('utf8');
  t.equal(code, 3, 'its exit code, not 0 from an event loop that emptied while the log retried');
  t.match(stderr, /stopped after the bounded wait/, 'and what it says after the wait');
  t.match(stderr, /log lines could not be written/, 'the lost line is said at exit');
  t.ok(performance.now() - started < 10_000, 'within the bound, not held by the failing log');
});

t.test('a reader that is gone (EPIPE) ends the destination: what waits is counted as dropped', async (t) => {
  const fifo = join(dir, 'gone.fifo');
  execFileSync('mkfifo', [fifo]);
  const { reader, fd } = openFifo(fifo);
  t.teardown(() => closeSync(fd));
  reader.destroy(); // the only reader closes its end: every write now fails with EPIPE
  await new Promise((resolve) => reader.once('close', resolve));
  const logs = asyncLogDestination(fd, { batchChars: 1024, flushMs: 10, errorRetryMs: 20 });
  for (let i = 0; i < 10; i++) logs.stream.write(line(i));
  await logs.flush();
  t.equal(logs.dropped(), 10, 'the lines that could not be written are counted');
  t.equal(logs.stream.write(line(1)), false, 'nothing is accepted after that');
});

/** Runs test/helpers/log-exit-child.ts: its stdout lines (each parsed: a split line throws) and stderr. */
async function childLog(count: number, how: 'throw' | 'exit', delayMs: number): Promise<{ numbers: number[]; stderr: string; code: number | null }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, '../helpers/log-exit-child.ts'), String(count), how, String(delayMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const text = Buffer.concat(out).toString('utf8');
  const numbers = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { n: number }).n);
  return { numbers, stderr: Buffer.concat(err).toString('utf8'), code };
}

t.test('a process that dies (uncaught exception, process.exit) still writes the lines it holds', async (t) => {
  for (const how of ['throw', 'exit'] as const) {
    // Less than a batch: nothing was being written, the exit handler writes it all.
    const few = await childLog(50, how, 0);
    t.not(few.code, 0, `${how}: the process failed`);
    t.same(
      few.numbers,
      Array.from({ length: 50 }, (_, i) => i),
      `${how}: all 50 lines (11 KB), once each, in order`,
    );
    // Many batches: one may be in the thread pool at exit; then what follows it is lost and
    // said on stderr, never written beside it (which could split a line).
    const many = await childLog(3000, how, 5);
    t.ok(
      many.numbers.every((n, i) => n === i),
      `${how}: ${many.numbers.length} of 3000 lines arrived, whole (each parsed), once each, in order`,
    );
    if (many.numbers.length < 3000) t.match(many.stderr, /log lines could not be written to stdout at exit/, `${how}: the loss is said on stderr`);
  }
});
