// The enrollment secret's check lives in @oddwire/shared: the collector's `serve` uses the same one.
export { checkEnrollSecret, MAX_SECRET_CHARS, MIN_SECRET_CHARS } from "@oddwire/shared";
