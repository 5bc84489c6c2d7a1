// Public surface of @oddwire/shared.
export * from "./errors.js";
export * from "./enroll-secret.js";
export * from "./close-codes.js";
export * from "./wire-limits.js";
export * from "./model.js";
export * from "./tags.js";
export * from "./ports.js";
export * from "./knowledge.js";
export * from "./ancestry.js";
export * from "./terminal-text.js";
export * from "./cli-args.js";
export * from "./config.js";
export * from "./log.js";
export * from "./binary-key.js";
export * from "./cli-main.js";
export * from "./community-id.js";
