import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * Go-built tools deskbridge runs locally when no external cluster is configured. Both are built
 * once from their module sources into a per-user cache and reused by start, tests and benchmarks.
 */
export interface GoTool {
  binary: string;
  module: string;
  version: string;
  packagePath: string;
  /** Files the module zip lacks but the program needs at build time (FerretDB embeds its version). */
  extraFiles?: Record<string, string>;
}

export const temporalCli: GoTool = {
  binary: 'temporal',
  module: 'github.com/temporalio/cli',
  version: 'v1.5.1',
  packagePath: './cmd/temporal',
};

export const ferretDb: GoTool = {
  binary: 'ferretdb',
  module: 'github.com/FerretDB/FerretDB',
  version: 'v1.24.2',
  packagePath: './cmd/ferretdb',
  // The published module has no build/version/version.txt, and the binary panics at start
  // without it, so `go install` alone yields a binary that cannot run.
  extraFiles: { 'build/version/version.txt': 'v1.24.2\n' },
};

export function toolCacheDir(): string {
  const base = process.env.DESKBRIDGE_TOOL_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'deskbridge');
  return base;
}

function cachedBinaryPath(tool: GoTool): string {
  return path.join(toolCacheDir(), 'bin', `${tool.binary}-${tool.version}`);
}

export function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, binary);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function findGo(): string | undefined {
  return findOnPath('go') ?? (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/**
 * Returns a runnable binary for the tool: from PATH (when `preferPath`), from the cache, or
 * built now. A directory lock keeps two processes from building the same tool at once.
 */
export async function resolveGoTool(tool: GoTool, log: (msg: string) => void, preferPath = true): Promise<string | undefined> {
  if (preferPath) {
    const onPath = findOnPath(tool.binary);
    if (onPath) return onPath;
  }
  const cached = cachedBinaryPath(tool);
  if (fs.existsSync(cached)) return cached;
  const go = findGo();
  if (!go) return undefined;
  await withBuildLock(tool, async () => {
    if (fs.existsSync(cached)) return;
    log(`building ${tool.binary} ${tool.version} with Go into ${path.dirname(cached)} (first run only; takes a few minutes)`);
    await buildFromModule(go, tool, cached);
  });
  return cached;
}

async function buildFromModule(go: string, tool: GoTool, output: string): Promise<void> {
  const env = { ...process.env, GOFLAGS: '-buildvcs=false', CGO_ENABLED: process.env.CGO_ENABLED ?? '0' };
  // `go mod download` fetches exactly the tagged module; `go install mod@version` would also ask the
  // proxy for the module's version list, which some proxies refuse.
  const { stdout } = await exec(go, ['mod', 'download', '-json', `${tool.module}@${tool.version}`], { env, maxBuffer: 1 << 24 });
  const moduleDir = (JSON.parse(stdout) as { Dir: string }).Dir;
  const workDir = path.join(toolCacheDir(), 'src', `${tool.binary}-${tool.version}`);
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(workDir), { recursive: true });
  fs.cpSync(moduleDir, workDir, { recursive: true });
  makeWritable(workDir);
  for (const [file, content] of Object.entries(tool.extraFiles ?? {})) {
    fs.writeFileSync(path.join(workDir, file), content);
  }
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const partial = `${output}.partial-${process.pid}`;
  await exec(go, ['build', '-o', partial, tool.packagePath], { cwd: workDir, env, maxBuffer: 1 << 24, timeout: 30 * 60_000 });
  fs.renameSync(partial, output);
  fs.rmSync(workDir, { recursive: true, force: true });
}

function makeWritable(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    fs.chmodSync(full, entry.isDirectory() ? 0o755 : 0o644);
    if (entry.isDirectory()) makeWritable(full);
  }
  fs.chmodSync(dir, 0o755);
}

async function withBuildLock(tool: GoTool, build: () => Promise<void>): Promise<void> {
  const lock = path.join(toolCacheDir(), `.${tool.binary}.lock`);
  fs.mkdirSync(toolCacheDir(), { recursive: true });
  const deadline = Date.now() + 40 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // Another process builds it; a lock older than the build timeout is from a dead process.
      const stat = fs.statSync(lock, { throwIfNoEntry: false });
      if (stat && Date.now() - stat.mtimeMs > 35 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    await build();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
