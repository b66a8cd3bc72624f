// The AWS sandbox's public surface: start it, describe its data, build manifests.
export { startSandbox, type Sandbox, type SandboxOptions, type CallRecord, type Latency } from './server.ts';
export type { Fault, FaultKind } from './faults.ts';
export * from './fixture.ts';
export {
  MediaTypes,
  blobDescriptor,
  dockerImage,
  imageDescriptor,
  imageDigest,
  imageMediaType,
  manifestBytes,
  ociImage,
  ociIndex,
  sha256Digest,
  toBytes,
  type Descriptor,
  type ImageOptions,
  type IndexOptions,
} from './builders.ts';
export { SandboxFixtureError } from './store.ts';
export type { SandboxQueues, QueueDepth } from './sqs.ts';
