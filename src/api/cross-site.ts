/**
 * Cross-site request refusal for the ops API's state-changing calls, as a pure function of the request
 * headers.
 *
 * With a token, a cross-site page cannot act: it would have to send `Authorization`, which needs a CORS
 * preflight the ops API never grants (it sends no CORS headers), and no cookie carries credentials.
 * Without a token (loopback open mode) a page on any site could still fire a "simple" cross-site
 * `POST` at `http://127.0.0.1:8081/…/restart` from the operator's own browser. Browsers say where a
 * request comes from: `Sec-Fetch-Site` (Fetch Metadata) and, on every non-GET request, `Origin`. A
 * request naming another site is refused; requests without either header (curl, scripts, the CLI)
 * are not browser cross-site requests and pass.
 */
export function crossSiteReason(headers: { origin?: string | undefined; host?: string | undefined; 'sec-fetch-site'?: string | string[] | undefined }): string | undefined {
  const site = headers['sec-fetch-site'];
  // `same-origin` is the console itself; `none` is the user typing a URL. `same-site` is another port
  // or subdomain of the same site: another application, so it is refused too.
  if (site === 'cross-site' || site === 'same-site') return `a ${site} browser request cannot change state`;
  const origin = headers.origin;
  if (origin === undefined || origin === '') return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return `a request with Origin ${JSON.stringify(origin.slice(0, 100))} cannot change state`;
  }
  if (headers.host === undefined || originHost.toLowerCase() !== headers.host.toLowerCase()) {
    return `a request from ${origin.slice(0, 100)} cannot change state (only the console served by this API can)`;
  }
  return undefined;
}
