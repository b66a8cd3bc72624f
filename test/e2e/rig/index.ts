// The e2e rig: real kube-apiserver, etcd, olareg, notation and oras on 127.0.0.1.
export { rigBinDir, rigKubeApiServer, repoRoot } from './bin-dir.ts';
export { KUBE_SELECTOR_ENV, kubeSelector, type KubeApiServerBinary } from './kube-version.ts';
export { RigError, type RigErrorCode } from './errors.ts';
export { e2eOutputDir, type TestLike } from './output-dir.ts';
export { startEtcd, type RigEtcd } from './etcd.ts';
export { startApiServer, signingCaPem, type RigApiServer, type StartApiServerOptions } from './apiserver.ts';
export { startOlareg, type RigOlareg, type StartOlaregOptions } from './olareg.ts';
export { cosign, notation, notationEnv, notationConfigDir, oras, type NotationEnv, type OrasOptions, type ToolOutput } from './cli-tools.ts';
export { listeningSockets, type Listener } from './listeners.ts';
export { freePort } from './ports.ts';
export { httpsGet, type HttpsGetResult } from './https-get.ts';
export { selfSignedServingCert, type ServingCert } from './tls.ts';
export { writeSmallImage, type SmallImageFiles } from './small-image.ts';
