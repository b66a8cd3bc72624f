// `ecr-admission sandbox`: the demo's AWS sandbox alone, for kind clusters and benchmarks.
// Point AWS_ENDPOINT_URL_ECR, _INSPECTOR2 and _SIGNER at it.
import type { SandboxOptions } from '../../cli/args.ts';
import { DEMO_PROFILE, demoWorld } from '../demo/fixture.ts';
import { demoPolicy } from '../demo/samples.ts';
import { startSandbox } from '../sandbox/index.ts';

export async function runSandbox(options: SandboxOptions, print: (line: string) => void): Promise<number> {
  const world = await demoWorld();
  const sandbox = await startSandbox({ fixture: world.fixture, port: options.port, host: options.host });
  print(`AWS sandbox listening on ${sandbox.url}`);
  for (const [name, url] of Object.entries(sandbox.endpoints())) print(`  ${name}=${url}`);
  print(`Demo signer root (trust store type signingAuthority): ${world.trustStorePath}`);
  print(`A policy that matches it:\n${demoPolicy(world.trustStorePath, DEMO_PROFILE)}`);
  return new Promise((resolve) => {
    const stop = () => void sandbox.close().then(() => resolve(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
