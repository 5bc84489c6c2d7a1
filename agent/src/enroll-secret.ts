// The one check of an enrollment secret on the agent's side, used by `run`,
// `replay` and `configure`: the same rules as the collector's `serve` (at
// least 8 characters) and the wire limit on EnrollRequest.enroll_secret, so a
// secret is refused where it is typed, not at the collector.

import { OddwireError, STRING_LIMITS } from "@oddwire/shared";

export const MIN_SECRET_CHARS = 8;
export const MAX_SECRET_CHARS = 4096;

export function checkEnrollSecret(secret: string): string {
  if (/[\r\n\0]/.test(secret)) throw new OddwireError("ODW_ERR_CONFIG", "the enrollment secret must be one line (no line breaks or NUL characters)");
  if (secret.length < MIN_SECRET_CHARS) throw new OddwireError("ODW_ERR_CONFIG", `the enrollment secret must be at least ${MIN_SECRET_CHARS} characters long (the collector refuses shorter ones)`);
  if (secret.length > MAX_SECRET_CHARS || Buffer.byteLength(secret, "utf8") > STRING_LIMITS.enroll_secret) {
    throw new OddwireError("ODW_ERR_CONFIG", `the enrollment secret must be at most ${MAX_SECRET_CHARS} characters long (and ${STRING_LIMITS.enroll_secret} bytes in UTF-8)`);
  }
  return secret;
}
