export { hasMarker, markerOf, stripMarkers, withMarker } from "./hidden-marker.js";
export type { Lookup, LookupTarget } from "./lookups.js";
export type {
  EndpointOptions,
  OctokitLike,
  OctokitReader,
  OctokitResponseLike,
  SendRequest,
} from "./octokit-types.js";
export { MAX_LOOKUP_PAGES } from "./paginate.js";
export { type BeauvoirOctokitApi, beauvoir } from "./plugin.js";
export {
  type BeauvoirApp,
  type BeauvoirPluginOptions,
  type BeauvoirRequestOptions,
  PLUGIN_DEFAULTS,
  type RouteSettings,
} from "./plugin-options.js";
export { type BeauvoirReconcilersOptions, beauvoirReconcilers } from "./reconcilers.js";
export {
  compactData,
  OUTCOME_HEADER,
  type RecordedResponse,
  type ReplayedOutcome,
} from "./response-forms.js";
export { derivedAction, type RoutePlan } from "./route-plan.js";
export {
  type LookupName,
  type MarkerPlace,
  READ_ONLY_POST_ROUTES,
  WRITE_ROUTES,
  type WriteRoute,
} from "./route-table.js";
