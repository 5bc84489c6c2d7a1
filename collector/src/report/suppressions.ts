// Allow rules for known-good findings (stored with their audit trail by
// store/suppressions.ts): a rule names a binary (its normalised path or its
// name), optionally a protocol and hosts, and may expire; this is which
// finding a rule covers.

import type { SuppressionRow } from "../store/suppressions.js";
import type { Suppression } from "./report-types.js";

export interface ActiveSuppression extends Suppression {
  binary: string;
  protocol: string;
  hosts: string[] | "*";
}

export type { SuppressionInput } from "../store/suppressions.js";

/** The rules in force, as the report matches them. */
export function activeRules(rows: readonly SuppressionRow[]): ActiveSuppression[] {
  return rows.map((r) => ({
    id: r.id,
    binary: r.binary,
    protocol: r.protocol,
    hosts: r.hosts === "*" ? "*" : r.hosts.split(","),
    reason: r.reason,
    by: r.created_by,
    createdAtMs: r.created_at,
    expiresAtMs: r.expires_at,
  }));
}

/** The first rule that covers a finding (all its hosts, when the rule names hosts). */
export function matchSuppression(rules: ActiveSuppression[], binary: string, name: string, protocol: string, hostIds: string[]): Suppression | undefined {
  const rule = rules.find(
    (r) =>
      (r.binary === binary || r.binary.toLowerCase() === name.toLowerCase()) &&
      (r.protocol === "*" || r.protocol === protocol) &&
      (r.hosts === "*" || hostIds.every((h) => (r.hosts as string[]).includes(h))),
  );
  if (!rule) return undefined;
  const { id, reason, by, createdAtMs, expiresAtMs } = rule;
  return { id, reason, by, createdAtMs, expiresAtMs };
}
