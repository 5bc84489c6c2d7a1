// WebSocket close codes the collector uses, each paired with the error code
// an agent logs. 1009 (too big) and 1011 (server error) are the standard ones.

export const CLOSE = {
  TOO_BIG: 1009,
  SERVER_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  DECODE: 4400,
  REVOKED: 4403,
  PROTOCOL: 4406,
  SUPERSEDED: 4409,
  HEARTBEAT: 4408,
} as const;
