import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/**
 * Child processes deskbridge starts for itself (Temporal dev server, FerretDB, workers).
 * Every one is registered so that exit, Ctrl-C and test teardown stop all of them: no orphans.
 */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  logTail(): string;
  stop(): Promise<void>;
}

const running = new Set<ManagedProcess>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // 'exit' handlers must be synchronous: a plain SIGKILL to whatever is still alive.
  process.on('exit', () => {
    for (const p of running) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Lines of output kept for error messages. */
  tailLines?: number;
  /** Opens an IPC channel: deskbridge's own processes report readiness with process.send. */
  ipc?: boolean;
}

export function startProcess(options: StartOptions): ManagedProcess {
  installExitHooks();
  const tail: string[] = [];
  const keep = options.tailLines ?? 40;
  const child = spawn(options.command, options.args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const remember = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > keep) tail.shift();
    }
  };
  child.stdout?.on('data', remember);
  child.stderr?.on('data', remember);
  if (child.pid === undefined) {
    throw new Error(`${options.name}: could not start ${options.command}`);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const managed: ManagedProcess = {
    name: options.name,
    pid: child.pid,
    child,
    logTail: () => tail.join('\n'),
    async stop() {
      running.delete(managed);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), delay(10_000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  running.add(managed);
  child.once('exit', () => running.delete(managed));
  return managed;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

export function runningProcesses(): readonly ManagedProcess[] {
  return [...running];
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Polls `ready` until it answers true; fails with the process's own last log lines so the
 * person reading the error sees why it did not come up.
 */
export async function waitUntilReady(
  proc: ManagedProcess,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`${proc.name} exited before it was ready (code ${proc.child.exitCode}). Last output:\n${proc.logTail()}`);
    }
    if (await ready().catch(() => false)) return;
    await delay(150);
  }
  await proc.stop();
  throw new Error(`${proc.name} was not ready within ${timeoutMs} ms. Last output:\n${proc.logTail()}`);
}

/** Waits for a deskbridge process to send `{ ready: true }` over IPC. */
export function waitUntilReadyMessage(proc: ManagedProcess, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      void proc.stop();
      reject(new Error(`${proc.name} did not report ready within ${timeoutMs} ms. Last output:\n${proc.logTail()}`));
    }, timeoutMs);
    const onMessage = (message: unknown) => {
      if (typeof message === 'object' && message !== null && (message as { ready?: boolean }).ready) {
        cleanup();
        resolve(message as Record<string, unknown>);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${proc.name} exited (code ${code}) before it was ready. Last output:\n${proc.logTail()}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      proc.child.off('message', onMessage);
      proc.child.off('exit', onExit);
    };
    proc.child.on('message', onMessage);
    proc.child.once('exit', onExit);
  });
}
