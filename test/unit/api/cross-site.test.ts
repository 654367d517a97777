import { describe, expect, it } from 'vitest';
import { crossSiteReason } from '../../../src/api/cross-site.js';

describe('crossSiteReason', () => {
  it.each([
    ['no browser headers (curl, scripts)', { host: '127.0.0.1:8081' }, false],
    ['the console itself', { host: '127.0.0.1:8081', origin: 'http://127.0.0.1:8081', 'sec-fetch-site': 'same-origin' }, false],
    ['same origin, host in another letter case', { host: 'OPS.example:8081', origin: 'http://ops.example:8081' }, false],
    ['a URL typed by the user', { host: '127.0.0.1:8081', 'sec-fetch-site': 'none' }, false],
    ['another site', { host: '127.0.0.1:8081', origin: 'https://evil.example' }, true],
    ['another port of the same host', { host: '127.0.0.1:8081', origin: 'http://127.0.0.1:8080' }, true],
    ['Fetch Metadata cross-site, no Origin', { host: '127.0.0.1:8081', 'sec-fetch-site': 'cross-site' }, true],
    ['Fetch Metadata same-site (another port or subdomain)', { host: '127.0.0.1:8081', 'sec-fetch-site': 'same-site', origin: 'http://127.0.0.1:8081' }, true],
    ['an opaque origin (sandboxed frame, file:)', { host: '127.0.0.1:8081', origin: 'null' }, true],
    ['an Origin but no Host', { origin: 'http://127.0.0.1:8081' }, true],
  ])('%s', (_name, headers, refused) => {
    expect(crossSiteReason(headers) !== undefined).toBe(refused);
  });
});
