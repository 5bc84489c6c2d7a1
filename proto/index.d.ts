export { oddwire } from "./gen/oddwire.js";
