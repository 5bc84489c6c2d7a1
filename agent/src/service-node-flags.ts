// Node/V8 flags for the long-running agent service. A snapshot a minute does
// not need V8's optimizing compiler, whose code and feedback cost ~15 MB of
// resident memory; lite mode trades ~15% snapshot CPU for it. A 1 MB
// semi-space keeps the young generation from growing to 32 MB between major
// collections. --no-expose-wasm silences V8's warning that lite mode turns
// WebAssembly off (the agent uses none). Measured in `npm run bench`.
export const SERVICE_NODE_FLAGS: readonly string[] = Object.freeze(["--lite-mode", "--max-semi-space-size=1", "--no-expose-wasm"]);
