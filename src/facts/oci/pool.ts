// Runs async work over a list with bounded concurrency. The first failure aborts the work
// still running (through the signal handed to each task) and is what the caller sees.

export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  signal: AbortSignal,
  task: (item: T, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  const controller = new AbortController();
  const linked = AbortSignal.any([signal, controller.signal]);
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!, linked);
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker);
  try {
    await Promise.all(
      workers.map((w) =>
        w.catch((error: unknown) => {
          controller.abort(error);
          throw error;
        }),
      ),
    );
  } finally {
    controller.abort();
  }
  return results;
}
