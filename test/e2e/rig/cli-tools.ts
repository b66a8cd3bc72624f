// The notation and oras CLIs from the rig's bin dir. Each call is a one-shot process; a
// non-zero exit becomes a RigError (RIG_TOOL_FAILED) carrying the tool's stderr.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { rigBinDir, rigCosignPath } from './bin-dir.ts';
import { RigError } from './errors.ts';

export interface ToolOutput {
  stdout: string;
  stderr: string;
}

/**
 * Environment for notation: XDG_CONFIG_HOME decides where its keys, certificates, trust store
 * and trust policy live, so each test gets its own and never touches the user's ~/.config.
 */
export interface NotationEnv {
  XDG_CONFIG_HOME: string;
  [name: string]: string;
}

/** A private notation config/cache home under `dir`. */
export function notationEnv(dir: string): NotationEnv {
  const configHome = join(dir, 'notation-config');
  const cacheHome = join(dir, 'notation-cache');
  mkdirSync(configHome, { recursive: true });
  mkdirSync(cacheHome, { recursive: true });
  return { XDG_CONFIG_HOME: configHome, XDG_CACHE_HOME: cacheHome };
}

/** The folder notation keeps its config in, for a given env (trustpolicy.oci.json goes here). */
export function notationConfigDir(env: NotationEnv): string {
  return join(env.XDG_CONFIG_HOME, 'notation');
}

export async function notation(args: string[], env: NotationEnv): Promise<ToolOutput> {
  return runTool('notation', args, env);
}

export interface OrasOptions {
  /** Where oras reads registry credentials (config.json); a private one by default is not needed for plain-HTTP olareg. */
  env?: Record<string, string>;
  /** Working directory: oras push takes file paths relative to it. */
  cwd?: string;
}

export async function oras(args: string[], opts: OrasOptions = {}): Promise<ToolOutput> {
  return runTool('oras', args, opts.env ?? {}, opts.cwd);
}

/** The cosign CLI (issue 19). Pass COSIGN_PASSWORD (empty for an unencrypted test key) and a
 *  private HOME/TUF_ROOT in env: nothing here may reach Sigstore's public services. */
export async function cosign(args: string[], env: Record<string, string>, cwd?: string): Promise<ToolOutput> {
  return runTool('cosign', args, env, cwd, await rigCosignPath());
}

async function runTool(name: string, args: string[], env: Record<string, string>, cwd?: string, path?: string): Promise<ToolOutput> {
  const command = path ?? join(await rigBinDir(), name);
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: { ...process.env, ...env }, cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new RigError('RIG_TOOL_FAILED', `${name} ${args.join(' ')} failed: ${error.message}\n${stderr}`, { cause: error }));
        return;
      }
      resolve({ stdout, stderr });
    });
  });
}
