// One agent's stream once authenticated: the welcome, then each message
// checked (binary, decodable, a batch or a heartbeat, within limits) before
// its batch is queued for the group commit.

import type { WebSocket } from "ws";
import { oddwire } from "@oddwire/proto";
import type { Logger } from "@oddwire/shared";
import { batchProblem } from "./batch-limits.js";
import { checkAgentFrame, describeViolation } from "./frame-check.js";
import { CLOSE } from "./close-codes.js";
import { sendMessage, type GroupCommit } from "./group-commit.js";
import type { Metrics } from "./metrics.js";
import type { Stream, StreamRegistry } from "./stream-registry.js";

const { AgentMessage } = oddwire.v1;

export interface SessionDeps {
  streams: StreamRegistry;
  commits: GroupCommit;
  metrics: Metrics;
  log: Logger;
  maxFrameBytes: number;
}

export function startSession(deps: SessionDeps, ws: WebSocket, hostId: string, address: string, lastSeq: number): Stream {
  const { streams, metrics, log } = deps;
  const stream: Stream = { ws, hostId, address, alive: true, dead: false, queuedBytes: 0 };
  streams.add(stream);
  metrics.inc("connections_accepted");
  log.info("stream.open", { hostId, address, lastSeq });
  ws.on("pong", () => (stream.alive = true));
  ws.on("message", (data, isBinary) => onMessage(deps, stream, data as Buffer, isBinary));
  ws.on("error", (err: Error & { code?: string }) => {
    if (err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
      metrics.inc("frames_too_large");
      log.warn("stream.frame_too_large", { hostId, address, limit: deps.maxFrameBytes });
    } else {
      metrics.inc("protocol_errors");
      log.warn("stream.error", { hostId, address, error: err.message });
    }
  });
  ws.on("close", (code) => {
    streams.remove(stream);
    log.info("stream.close", { hostId, address, code });
  });
  sendMessage(ws, { welcome: { lastSeq, maxFrameBytes: deps.maxFrameBytes } });
  return stream;
}

function onMessage(deps: SessionDeps, stream: Stream, data: Buffer, isBinary: boolean): void {
  const { streams, metrics } = deps;
  // ws still delivers frames that arrive while a stream closes; a batch after
  // one that was dropped must not be committed ahead of it.
  if (!streams.isCurrent(stream)) return;
  if (!isBinary) {
    metrics.inc("protocol_errors");
    return streams.close(stream, CLOSE.PROTOCOL, "messages must be binary protobuf", "stream.text_frame");
  }
  // Walked before decoding: a frame of a million tiny fields costs gigabytes
  // and seconds once decoded, and would stall every other stream meanwhile.
  const violation = checkAgentFrame(data);
  if (violation?.kind === "malformed") {
    metrics.inc("decode_errors");
    return streams.close(stream, CLOSE.DECODE, "undecodable AgentMessage", "stream.decode_error", { error: violation.where });
  }
  if (violation) {
    metrics.inc("frames_over_limit");
    return streams.close(stream, CLOSE.PROTOCOL, describeViolation(violation), "stream.over_limit", { bytes: data.length });
  }
  let msg: oddwire.v1.AgentMessage;
  try {
    msg = AgentMessage.decode(data);
  } catch (err) {
    metrics.inc("decode_errors");
    return streams.close(stream, CLOSE.DECODE, "undecodable AgentMessage", "stream.decode_error", { error: (err as Error).message });
  }
  if (msg.heartbeat) return sendMessage(stream.ws, { heartbeat: { sentAtMs: Date.now() } });
  if (!msg.batch) {
    metrics.inc("protocol_errors");
    return streams.close(stream, CLOSE.PROTOCOL, "expected a batch or heartbeat", "stream.unexpected_message", { body: msg.body ?? "none" });
  }
  const problem = batchProblem(msg.batch);
  if (problem) {
    metrics.inc("protocol_errors");
    return streams.close(stream, CLOSE.PROTOCOL, problem, "stream.bad_batch");
  }
  deps.commits.enqueue(stream, { hostId: stream.hostId, batch: msg.batch, bytes: data.length });
}
