// Errors the rig harness throws. Each carries a stable `code` so a failing e2e test says which
// part of the rig broke (build, a peer that died, a peer that never became ready, a CLI call).

export type RigErrorCode = 'RIG_BUILD_FAILED' | 'RIG_KUBE_VERSION_UNKNOWN' | 'RIG_PROCESS_EXITED' | 'RIG_READY_TIMEOUT' | 'RIG_TOOL_FAILED';

export class RigError extends Error {
  readonly code: RigErrorCode;

  constructor(code: RigErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RigError';
    this.code = code;
  }
}
