// The certificate manager's ClusterPort on the Kubernetes API (@kubernetes/client-node): one
// named Secret in the release namespace, named Validating (and Mutating) WebhookConfigurations. Every call
// names its object, so the chart's RBAC can grant each verb on that one name (resourceNames);
// nothing here creates, lists or watches.
import { AdmissionregistrationV1Api, ApiException, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Secret } from '@kubernetes/client-node';
import { FAILURE_POLICY_ANNOTATION, type ClusterPort, type SecretDocument, type WebhookDocument } from './certificates.ts';

export interface KubeClusterOptions {
  readonly namespace: string;
  /** Absent: certificates come from files; only the webhook configuration is maintained. */
  readonly secretName?: string;
  /** ValidatingWebhookConfiguration names; the first is the image webhook's. */
  readonly webhookConfigurations: readonly string[];
  /** Default: in the Pod, the ServiceAccount token; elsewhere $KUBECONFIG (KubeConfig.loadFromDefault). */
  readonly kubeConfig?: KubeConfig;
}

const FIELD_MANAGER = 'ecr-admission';

const isStatus = (err: unknown, code: number) => err instanceof ApiException && err.code === code;

/** A configuration named "mutating:NAME" is the MutatingWebhookConfiguration NAME (digest
 *  pinning's); any other name, a ValidatingWebhookConfiguration. No Kubernetes name has a ":". */
export const MUTATING_PREFIX = 'mutating:';
const mutatingName = (configuration: string) => (configuration.startsWith(MUTATING_PREFIX) ? configuration.slice(MUTATING_PREFIX.length) : undefined);

export function createKubeCluster(options: KubeClusterOptions): ClusterPort {
  let kubeConfig = options.kubeConfig;
  if (!kubeConfig) {
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
  }
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const { namespace, webhookConfigurations } = options;
  const name = options.secretName ?? '';
  // Kept between read and write so the write sends the object back whole (labels, Helm's
  // annotations) with only data and our annotations changed.
  let lastSecret: V1Secret | undefined;

  return {
    configurations: webhookConfigurations,
    async readSecret() {
      if (options.secretName === undefined) return undefined;
      try {
        lastSecret = await core.readNamespacedSecret({ name, namespace });
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
      const data = Object.fromEntries(Object.entries(lastSecret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      return { resourceVersion: lastSecret.metadata?.resourceVersion ?? '', data, annotations: lastSecret.metadata?.annotations ?? {} };
    },
    async writeSecret(document: SecretDocument) {
      const body: V1Secret = {
        ...lastSecret,
        metadata: { ...lastSecret?.metadata, name, namespace, resourceVersion: document.resourceVersion, annotations: { ...document.annotations } },
        data: Object.fromEntries(Object.entries(document.data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      };
      try {
        await core.replaceNamespacedSecret({ name, namespace, body, fieldManager: FIELD_MANAGER });
        return true;
      } catch (err) {
        if (isStatus(err, 409)) return false;
        throw err;
      }
    },
    async readWebhooks(configuration): Promise<WebhookDocument | undefined> {
      let vwc;
      const mutating = mutatingName(configuration);
      try {
        vwc =
          mutating !== undefined
            ? await admission.readMutatingWebhookConfiguration({ name: mutating })
            : await admission.readValidatingWebhookConfiguration({ name: configuration });
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
      const target = vwc.metadata?.annotations?.[FAILURE_POLICY_ANNOTATION];
      return {
        resourceVersion: vwc.metadata?.resourceVersion ?? '',
        webhooks: (vwc.webhooks ?? []).map((w) => ({
          caBundle: w.clientConfig.caBundle ? Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8') : '',
          ...(w.failurePolicy !== undefined && { failurePolicy: w.failurePolicy }),
        })),
        ...((target === 'Fail' || target === 'Ignore') && { targetFailurePolicy: target }),
      };
    },
    async patchWebhooks(configuration, resourceVersion, count, change) {
      // A JSON patch that first tests the resourceVersion: applied only to the configuration
      // that was read, and touching only caBundle and failurePolicy (Helm and cert-manager's
      // cainjector own the rest).
      const ops: object[] = [{ op: 'test', path: '/metadata/resourceVersion', value: resourceVersion }];
      for (let i = 0; i < count; i++) {
        if (change.caBundle !== undefined)
          ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: Buffer.from(change.caBundle).toString('base64') });
        if (change.failurePolicy !== undefined) ops.push({ op: 'add', path: `/webhooks/${i}/failurePolicy`, value: change.failurePolicy });
      }
      const mutating = mutatingName(configuration);
      try {
        const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
        if (mutating !== undefined) await admission.patchMutatingWebhookConfiguration({ name: mutating, body: ops, fieldManager: FIELD_MANAGER }, jsonPatch);
        else await admission.patchValidatingWebhookConfiguration({ name: configuration, body: ops, fieldManager: FIELD_MANAGER }, jsonPatch);
        return true;
      } catch (err) {
        // 409: changed since read; 422: the test op failed (the same, said by the JSON patch).
        if (isStatus(err, 409) || isStatus(err, 422)) return false;
        throw err;
      }
    },
  };
}
