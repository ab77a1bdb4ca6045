// The service a route destination names, the way Istio's standard metrics label
// it (`destination_service_name`, `destination_service_namespace`). A short host
// is relative to the VirtualService's namespace; `name.ns.svc.<cluster domain>`
// names a Kubernetes Service; anything else (a ServiceEntry host) is its own name.

export interface ServiceRef {
  namespace: string;
  name: string;
}

export function serviceOfHost(host: string, virtualServiceNamespace: string): ServiceRef {
  if (!host.includes('.')) return { namespace: virtualServiceNamespace, name: host };
  const labels = host.split('.');
  if (labels.length >= 4 && labels[2] === 'svc' && labels[0] && labels[1]) return { namespace: labels[1], name: labels[0] };
  return { namespace: virtualServiceNamespace, name: host };
}
