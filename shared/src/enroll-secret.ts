// The one check of an enrollment secret, used by the collector's `serve` and
// the agent's `run`, `replay` and `configure`: one line, 8 to 4096
// characters, within the wire limit on EnrollRequest.enroll_secret. A secret
// is refused where it is typed, never accepted by one program and refused by
// another.

import { OddwireError } from "./errors.js";
import { STRING_LIMITS } from "./wire-limits.js";

export const MIN_SECRET_CHARS = 8;
export const MAX_SECRET_CHARS = 4096;

export function checkEnrollSecret(secret: string): string {
  if (/[\r\n\0]/.test(secret)) throw new OddwireError("ODW_ERR_CONFIG", "the enrollment secret must be one line (no line breaks or NUL characters)");
  if (secret.length < MIN_SECRET_CHARS) throw new OddwireError("ODW_ERR_CONFIG", `the enrollment secret must be at least ${MIN_SECRET_CHARS} characters long `);
  if (secret.length > MAX_SECRET_CHARS || Buffer.byteLength(secret, "utf8") > STRING_LIMITS.enroll_secret) {
    throw new OddwireError("ODW_ERR_CONFIG", `the enrollment secret must be at most ${MAX_SECRET_CHARS} characters long (and ${STRING_LIMITS.enroll_secret} bytes in UTF-8)`);
  }
  return secret;
}
