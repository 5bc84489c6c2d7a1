// Rate-limited logging for events a flood can repeat thousands of times a
// second (slow or half-open connections): the first of each event in a
// window is logged, the rest are counted and reported with the next one.

import type { Logger } from "@oddwire/shared";

export class LogThrottle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly windowMs = 10_000,
  ) {}

  warn(event: string, fields: Record<string, unknown>, now = Date.now()): void {
    const seen = this.last.get(event);
    if (seen && now - seen.at < this.windowMs) {
      seen.suppressed++;
      return;
    }
    this.log.warn(event, { ...fields, ...(seen?.suppressed && { suppressedSinceLast: seen.suppressed }) });
    this.last.set(event, { at: now, suppressed: 0 });
  }
}
