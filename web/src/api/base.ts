/** Where the gateway serves the services: /api/<service>/… on the page's own origin. */
export const API_BASE = "/api";
