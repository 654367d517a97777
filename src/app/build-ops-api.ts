import { ApiServer, type ApiServerOptions } from '../api/api-server.js';
import { component, type Component } from './component.js';

export interface BuiltOpsApi {
  api: ApiServer;
  /** `api`: started last, so `/readyz` never answers before what it checks exists. */
  component: Component;
}

/**
 * The ops API: `/api/v1/channels` when given the channel service (`serve`), and always `/healthz`,
 * `/readyz` (the given checks) and `/metrics` (the standalone origin's ops port has only these).
 */
export function buildOpsApi(options: ApiServerOptions): BuiltOpsApi {
  const api = new ApiServer(options);
  return { api, component: component('api', api) };
}
