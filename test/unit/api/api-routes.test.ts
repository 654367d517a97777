import { describe, expect, it } from 'vitest';
import { API_ROUTES, allowedMethods } from '../../../src/api/api-routes.js';

describe('allowedMethods', () => {
  it.each([
    ['/api/v1/channels', ['GET', 'POST', 'HEAD']],
    ['/api/v1/channels/news', ['GET', 'PATCH', 'DELETE', 'HEAD']],
    ['/api/v1/channels/news/kick', ['POST']],
    ['/api/v1/openapi.json', ['GET', 'HEAD']],
    ['/api/v1/openapiXjson', []],
    ['/api/v1/channels/news/extra/path', []],
    ['/nope', []],
  ])('%s → %j', (path, methods) => {
    expect(allowedMethods(path)).toEqual(methods);
  });
});

describe('API_ROUTES', () => {
  it('has unique operation ids and unique method+path pairs', () => {
    expect(new Set(API_ROUTES.map((r) => r.operationId)).size).toBe(API_ROUTES.length);
    expect(new Set(API_ROUTES.map((r) => `${r.method} ${r.path}`)).size).toBe(API_ROUTES.length);
  });

  it('audits exactly the mutating routes, and they all need the token', () => {
    for (const route of API_ROUTES) {
      expect(route.audit, route.operationId).toBe(route.method !== 'GET');
      if (route.audit) expect(route.auth, route.operationId).toBe(true);
    }
  });
});
