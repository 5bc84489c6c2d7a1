// Entry point of @oddwire/proto: the generated messages, with 64-bit fields as numbers.
import "./numbers.js";
export { oddwire } from "./gen/oddwire.js";
