// `ecr-admission sandbox`: the AWS sandbox alone, for kind clusters and benchmarks.
import type { SandboxOptions } from '../config/args.ts';

export async function runSandbox(_options: SandboxOptions, print: (line: string) => void): Promise<number> {
  print('ecr-admission sandbox: not wired yet');
  return 2;
}
