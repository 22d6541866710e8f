import path from 'node:path';

/**
 * V8 sizes its heap from the machine's memory, so on a large host a worker lets garbage pile up
 * to several hundred MB before it collects. A fixed old-space limit keeps its footprint
 * predictable (a page of records and a message body at a time is all it holds) at no cost in
 * throughput; docker-compose.yml starts the worker with the same flag.
 */
export const workerHeapMb = 256;

/** Node arguments that run the worker process, for `npm start`, the benchmarks and the crash tests alike. */
export const workerProcessArgs = (): string[] => [`--max-old-space-size=${workerHeapMb}`, '--import', 'tsx', path.resolve(__dirname, 'main.ts')];
