/** Polls until `probe` returns a value `accept` likes; returns the last value either way. */
export async function eventually<T>(probe: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!accept(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, everyMs));
    last = await probe();
  }
  return last;
}

/** Resolves after `ms`; for letting asynchronous deliveries (that must NOT change anything) arrive. */
export const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
