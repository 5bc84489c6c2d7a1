// The collector's two addresses from the one URL an operator gives (ws://,
// wss://, http:// or https://): the HTTP(S) base for enrollment and the
// WebSocket URL of the stream.

function withScheme(collector: string, secure: string, plain: string): URL {
  const u = new URL(collector);
  u.protocol = u.protocol === "wss:" || u.protocol === "https:" ? secure : plain;
  u.search = "";
  u.hash = "";
  return u;
}

export function httpBase(collector: string): URL {
  const u = withScheme(collector, "https:", "http:");
  u.pathname = "/";
  return u;
}

export function streamUrl(collector: string): string {
  const u = withScheme(collector, "wss:", "ws:");
  u.pathname = "/v1/stream";
  return u.toString();
}
