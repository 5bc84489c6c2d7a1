// Linux collection: everything from /proc, no external tools. The phases are
// timed separately because they scale with different things (processes,
// open files, sockets).

import { OddwireError } from "@oddwire/shared";
import type { Backend, CollectResult, PhaseTimer } from "../backend.js";
import { ProcReader } from "./proc-reader.js";
import { readProcessTable } from "./process-table.js";
import { readSocketOwners } from "./socket-owners.js";
import { readSocketTable } from "./socket-table.js";

const PRIVILEGE_HINT = "run the agent as root or with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to see every process";

export function createLinuxBackend(procRoot = "/proc"): Backend {
  const reader = new ProcReader();
  return {
    async collect(timer: PhaseTimer): Promise<CollectResult> {
      let table;
      try {
        table = timer.time("processes", () => readProcessTable(procRoot, reader));
      } catch (err) {
        throw new OddwireError("ODW_ERR_COLLECT", `cannot read the process table under ${procRoot}: ${(err as Error).message}`, { cause: err });
      }
      const { owners, unreadable } = timer.time("socketOwners", () => readSocketOwners(procRoot, table.processes));
      const { sockets, warnings } = timer.time("sockets", () => readSocketTable(procRoot, table.netnsPids, owners, reader));
      if (table.unreadable > 0) warnings.push(`${table.unreadable} processes' executables or namespaces could not be read; ${PRIVILEGE_HINT}`);
      if (unreadable > 0) warnings.push(`${unreadable} processes' open sockets could not be read, so their sockets show no owner; ${PRIVILEGE_HINT}`);
      return { processes: table.processes, sockets, warnings };
    },
  };
}
