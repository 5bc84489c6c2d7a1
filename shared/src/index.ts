// Public surface of @oddwire/shared.
export * from "./errors.js";
export * from "./model.js";
export * from "./tags.js";
