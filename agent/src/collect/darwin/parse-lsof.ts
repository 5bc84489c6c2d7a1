// Reads lsof's field output (-F) on macOS: the socket table, and the path of
// each process's executable. macOS has no /proc, and netstat there names no
// owning process; lsof names both the socket and its owner in one run.
//
// Field output is one field per line, the first character naming the field:
// a process set starts with `p`, each open file within it with `f`. Only
// these fields are read (anything else is ignored):
//   p  pid              u  uid (numeric)
//   f  file descriptor  t  type: IPv4 | IPv6 (sockets) or VREG... (files)
//   P  protocol: TCP | UDP
//   n  name: `127.0.0.1:5432`, `*:5353`, `[::1]:8080`, `*:*`,
//      `10.0.0.5:50122->17.253.144.10:443`
//   T  TCP info, one line per item: `TST=LISTEN`, `TQR=0`, `TQS=0`
// The backend asks for exactly LSOF_SOCKET_ARGS and LSOF_TEXT_ARGS below.

import type { RawSocket } from "../backend.js";
import { parseEndpoint } from "../parse-endpoint.js";

/** `-n -P`: no DNS or service-name lookups; `-w`: no warnings on stderr. */
export const LSOF_SOCKET_ARGS = ["-n", "-P", "-w", "-iTCP", "-iUDP", "-FpuftPnT"];
/** Every process's `txt` files (its executable, then dyld and shared caches). */
export const LSOF_TEXT_ARGS = ["-n", "-P", "-w", "-d", "txt", "-Fpfn"];

// macOS lsof prints the BSD kernel's names (tcp_fsm.h); RawSocket wants
// Linux's.
const TCP_STATES = new Map<string, string>(
  Object.entries({
    CLOSED: "CLOSE",
    LISTEN: "LISTEN",
    SYN_SENT: "SYN_SENT",
    SYN_RCVD: "SYN_RECV",
    SYN_RECEIVED: "SYN_RECV",
    ESTABLISHED: "ESTABLISHED",
    CLOSE_WAIT: "CLOSE_WAIT",
    FIN_WAIT_1: "FIN_WAIT1",
    CLOSING: "CLOSING",
    LAST_ACK: "LAST_ACK",
    FIN_WAIT_2: "FIN_WAIT2",
    TIME_WAIT: "TIME_WAIT",
  }),
);

interface FileFields {
  type: string;
  protocol: string;
  name: string;
  tcpState: string;
}

/**
 * Sockets from `lsof LSOF_SOCKET_ARGS`. A socket shared by several
 * processes (inherited across fork) appears once per process, as lsof lists
 * it; the same socket twice in one process (dup'd descriptors) appears once.
 */
export function parseLsofFields(text: string): RawSocket[] {
  const sockets: RawSocket[] = [];
  const seen = new Set<string>();
  let pid = -1;
  let uid = -1;
  let file: FileFields | undefined;

  const flush = (): void => {
    const current = file;
    file = undefined;
    if (current === undefined || pid < 0) return;
    const socket = toSocket(current, pid, uid);
    if (!socket) return;
    const key = `${socket.pid}|${socket.transport}|${socket.family}|${socket.localAddress}|${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}|${socket.state}`;
    if (seen.has(key)) return;
    seen.add(key);
    sockets.push(socket);
  };

  for (const line of text.split("\n")) {
    const value = line.slice(1);
    switch (line[0]) {
      case "p":
        flush();
        pid = /^\d+$/.test(value) ? Number(value) : -1;
        uid = -1;
        break;
      case "u":
        uid = /^\d+$/.test(value) ? Number(value) : -1;
        break;
      case "f":
        flush();
        file = { type: "", protocol: "", name: "", tcpState: "" };
        break;
      case "t":
        if (file) file.type = value;
        break;
      case "P":
        if (file) file.protocol = value;
        break;
      case "n":
        if (file) file.name = value;
        break;
      case "T":
        if (file && value.startsWith("ST=")) file.tcpState = value.slice(3);
        break;
      default:
        break;
    }
  }
  flush();
  return sockets;
}

function toSocket(file: FileFields, pid: number, uid: number): RawSocket | undefined {
  const family = file.type === "IPv4" ? 4 : file.type === "IPv6" ? 6 : undefined;
  const transport = file.protocol === "TCP" ? "tcp" : file.protocol === "UDP" ? "udp" : undefined;
  if (family === undefined || transport === undefined) return undefined;
  const arrow = file.name.indexOf("->");
  const local = parseEndpoint(arrow === -1 ? file.name : file.name.slice(0, arrow));
  const remote = arrow === -1 ? { address: "", port: 0, family: 0 as const } : parseEndpoint(file.name.slice(arrow + 2));
  if (!local || !remote) return undefined;
  const connected = remote.address !== "" || remote.port !== 0;

  let state: string;
  if (transport === "udp") state = connected ? "ESTABLISHED" : "UNCONN";
  else if (file.tcpState === "") return undefined;
  else state = TCP_STATES.get(file.tcpState) ?? file.tcpState.toUpperCase();

  return {
    transport,
    family,
    localAddress: local.address === "" ? (family === 6 ? "::" : "0.0.0.0") : local.address,
    localPort: local.port,
    remoteAddress: remote.address,
    remotePort: remote.port,
    state,
    pid,
    uid,
    inode: 0,
    netns: 0,
  };
}

/**
 * pid → executable path from `lsof LSOF_TEXT_ARGS`. lsof lists a process's
 * text files with the main executable first, so the first `txt` name of each
 * process is taken. This is the path of the file the kernel mapped, which
 * argv[0] (what `ps -o comm` shows) is not: a process may set argv[0] to
 * anything.
 */
export function parseLsofTextFiles(text: string): Map<number, string> {
  const exes = new Map<number, string>();
  let pid = -1;
  let fd = "";
  for (const line of text.split("\n")) {
    const value = line.slice(1);
    switch (line[0]) {
      case "p":
        pid = /^\d+$/.test(value) ? Number(value) : -1;
        fd = "";
        break;
      case "f":
        fd = value;
        break;
      case "n":
        if (pid >= 0 && fd === "txt" && value.startsWith("/") && !exes.has(pid)) exes.set(pid, value);
        break;
      default:
        break;
    }
  }
  return exes;
}
