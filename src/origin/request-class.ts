import type { OriginRequestClass } from '../observability/metrics.js';
import type { OriginResource } from './request-path.js';

/**
 * The metrics class of a request for `resource` (the `class` label of the origin request counter);
 * `blocking`: a media playlist request with `_HLS_msn`.
 */
export function requestClassOf(resource: Pick<OriginResource, 'kind'>, blocking: boolean): OriginRequestClass {
  switch (resource.kind) {
    case 'multivariant':
      return 'multivariant';
    case 'media-playlist':
      return blocking ? 'blocking_playlist' : 'playlist';
    case 'init':
    case 'part':
    case 'segment':
      return resource.kind;
    default:
      return 'other';
  }
}
