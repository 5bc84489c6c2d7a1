// The stream's close codes live in @oddwire/shared, where the agent reads them too.
export { CLOSE } from "@oddwire/shared";
