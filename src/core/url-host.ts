/** A host as it goes into a URL: IPv6 literals in brackets (`[::1]`), names and IPv4 as they are. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
