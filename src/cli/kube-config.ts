// The watcher's and the CLIs' kubeconfig, as @kubernetes/client-node's KubeConfig
// (their API clients come from it). The webhook reads its access without it:
// src/cluster/kube-access.ts.
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(kubeconfig: string | null | undefined, context: string | null | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new Error(`cannot load the kubeconfig ${kubeconfig ?? '(default)'}: ${(e as Error).message}; fix: pass --kubeconfig or run in a pod with a ServiceAccount`, { cause: e });
  }
  if (context) kc.setCurrentContext(context);
  if (!kc.getCurrentCluster()) {
    throw new Error(`the kubeconfig ${kubeconfig ?? '(default)'} names no current cluster${context ? ` for context ${context}` : ''}; fix: pass --kubeconfig and --context`);
  }
  return kc;
}
