// A persona as stored and as reported: what the store reads, what scoring
// and matching take, what the report's `personas` array holds.

import type { PersonaMatch } from "./match-persona.js";
import type { PersonaInput } from "./persona-input.js";

/** Triage states, in the order a persona usually walks them. */
export const PERSONA_STATES = ["new", "investigating", "reported", "taken-down", "dismissed"] as const;
export type PersonaState = (typeof PERSONA_STATES)[number];

export const STATE_MEANING: Record<PersonaState, string> = {
  new: "not looked at yet",
  investigating: "someone is looking into it",
  reported: "reported to the platform",
  "taken-down": "the platform took the account down",
  dismissed: "not an impersonation (or not ours to act on)",
};

export interface PersonaReportEntry {
  reportedAtMs: number;
  reportedBy: string;
  /** "cli", "http:<token name>", "csv:<file name>". */
  source: string;
  notes: string;
}

export interface PersonaAuditEntry {
  atMs: number;
  by: string;
  /** "reported" (a report arrived) or "state" (triage moved). */
  action: string;
  fromState: string;
  toState: string;
  reason: string;
}

/** A persona as stored: the fields of its reports, merged (see PersonaStore.add), with its triage state and history. */
export interface PersonaRecord extends Omit<PersonaInput, "reportedBy" | "notes"> {
  id: number;
  state: PersonaState;
  stateChangedAtMs: number;
  firstReportedMs: number;
  lastReportedMs: number;
  reports: PersonaReportEntry[];
  audit: PersonaAuditEntry[];
}

/** A persona in the report: the record, scored, with the hosts that reached its domains. */
export interface ReportPersona extends PersonaRecord {
  /** 0 to 100. */
  score: number;
  /** Why, in words, weightiest first. */
  reasons: string[];
  matches: PersonaMatch[];
}
