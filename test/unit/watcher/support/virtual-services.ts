import type { HttpRoute, VirtualService } from '../../../../src/istio/types.js';

/** `green:90 blue:10` → one http route; several strings → several routes. Host defaults to `reviews`. */
export function http(...routes: string[]): HttpRoute[] {
  return routes.map((r) => ({
    route: r.split(/\s+/).map((part) => {
      const [dest, weight] = part.split(':') as [string, string | undefined];
      const [subset, host] = dest.split('@') as [string, string | undefined];
      return { destination: { host: host ?? 'reviews', subset }, ...(weight !== undefined ? { weight: Number(weight) } : {}) };
    }),
  }));
}

export function virtualService(routes: HttpRoute[], annotations?: Record<string, string>, name = 'reviews', namespace = 'shop'): VirtualService {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}`, resourceVersion: '1', ...(annotations ? { annotations } : {}) },
    spec: { hosts: [name], http: routes },
  };
}
