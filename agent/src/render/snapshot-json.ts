// A snapshot in the protobuf JSON mapping (camelCase names, 64-bit integers as
// strings), every field present, and in its binary wire form.

import { oddwire } from "@oddwire/proto";
import type { SnapshotRecord } from "@oddwire/shared";

const { Snapshot } = oddwire.v1;
const JSON_OPTIONS = { longs: String, enums: String, json: true, defaults: true, arrays: true } as const;

export function snapshotToJson(record: SnapshotRecord): Record<string, unknown> {
  return Snapshot.toObject(Snapshot.fromObject(record), JSON_OPTIONS);
}

export function encodeSnapshot(record: SnapshotRecord): Uint8Array {
  return Snapshot.encode(Snapshot.fromObject(record)).finish();
}
