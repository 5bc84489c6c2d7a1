// The contract every platform backend fulfils: one call that reads the
// process table and the socket table of this host. Backends return raw
// records; hashing, classification and tagging happen later, the same way on
// every OS. A backend never fails because one process vanished mid-scan: it
// skips it. It fails (ODW_ERR_COLLECT) only when a whole source is unreadable,
// and reports partial reads as warnings.

import type { Transport } from "@oddwire/shared";

export interface RawProcess {
  pid: number;
  ppid: number;
  /** What the OS calls the process (Linux comm, Windows image name). */
  name: string;
  /** Full executable path; "" when unknown. */
  exe: string;
  /** Full command line, arguments joined by single spaces. */
  cmdline: string;
  user: string;
  /** -1 when the platform does not give a numeric uid. */
  uid: number;
  /** 0 when unknown. */
  startedAtMs: number;
  exeDeleted: boolean;
  /**
   * Where to read the executable's bytes for hashing; on Linux
   * /proc/<pid>/exe, which works for deleted executables and other mount
   * namespaces. "" to use `exe`.
   */
  exeReadPath: string;
}

export interface RawSocket {
  transport: Transport;
  /** 0 for packet sockets. */
  family: 0 | 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** Upper-case state: LISTEN, ESTABLISHED, TIME_WAIT...; UNCONN for unconnected UDP. */
  state: string;
  /** 0 when no visible process owns it. */
  pid: number;
  uid: number;
  inode: number;
  netns: number;
  /** Raw sockets: the IP protocol number; packet sockets: the EtherType as bound; absent otherwise. */
  rawProtocol?: number | undefined;
  /** Packet sockets: the interface index bound to, 0 for every interface. Not sent; used in reasons. */
  ifindex?: number;
}

export interface CollectResult {
  processes: RawProcess[];
  sockets: RawSocket[];
  warnings: string[];
}

/** Records how long each named phase took, for `snapshot --timing`. */
export interface PhaseTimer {
  time<T>(phase: string, work: () => T): T;
  timeAsync<T>(phase: string, work: () => Promise<T>): Promise<T>;
}

export interface Backend {
  collect(timer: PhaseTimer): Promise<CollectResult>;
}
