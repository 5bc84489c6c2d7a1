// Turns the text of Windows `netstat -nao` into socket records. netstat is the
// one socket source every Windows version has without elevation, and `-o`
// gives the owning pid even to an unprivileged caller.
//
// Rows are recognised by their shape (TCP|UDP, local endpoint, remote
// endpoint, optional state words, pid), never by header text: the title and
// column headers are translated on localized Windows ("Aktive Verbindungen",
// "Lokale Adresse"...), and so is the state column. UDP rows have no state
// at all. The tool writes in the console's OEM code page, which may arrive
// mis-decoded, so the parser relies on ASCII structure only.

import type { RawSocket } from "../backend.js";
import { parseEndpoint, type Endpoint } from "../parse-endpoint.js";

const ENGLISH_STATES = new Map<string, string>(
  Object.entries({
    LISTENING: "LISTEN",
    LISTEN: "LISTEN",
    ESTABLISHED: "ESTABLISHED",
    SYN_SENT: "SYN_SENT",
    SYN_RECEIVED: "SYN_RECV",
    SYN_RCVD: "SYN_RECV",
    FIN_WAIT_1: "FIN_WAIT1",
    FIN_WAIT_2: "FIN_WAIT2",
    CLOSE_WAIT: "CLOSE_WAIT",
    CLOSING: "CLOSING",
    LAST_ACK: "LAST_ACK",
    TIME_WAIT: "TIME_WAIT",
    CLOSED: "CLOSE",
    // A TCB being torn down, and a socket bound but neither listening nor
    // connected: Linux reports both as CLOSE.
    DELETE_TCB: "CLOSE",
    BOUND: "CLOSE",
  }),
);

// Translated state names seen in localized netstat output, keyed by their
// ASCII skeleton (see stateSkeleton) so that "ABHÖREN", a CP850 byte read as
// Latin-1, and a U+FFFD replacement all land on the same key. Not exhaustive:
// an unknown state still becomes LISTEN when the row has a listener's shape.
const LOCALIZED_STATES = new Map<string, string>(
  Object.entries({
    // German
    ABHREN: "LISTEN",
    HERGESTELLT: "ESTABLISHED",
    WARTEND: "TIME_WAIT",
    SCHLIESSEN_WARTEN: "CLOSE_WAIT",
    SYN_GESENDET: "SYN_SENT",
    SYN_EMPFANGEN: "SYN_RECV",
    GESCHLOSSEN: "CLOSE",
    // French ("ÉCOUTE", "ÉTABLI")
    COUTE: "LISTEN",
    TABLI: "ESTABLISHED",
    // Spanish
    ESCUCHANDO: "LISTEN",
    ESTABLECIDO: "ESTABLISHED",
    // Italian ("IN ASCOLTO" is two words)
    IN_ASCOLTO: "LISTEN",
    STABILITO: "ESTABLISHED",
    // Portuguese
    OUVINDO: "LISTEN",
    ESTABELECIDO: "ESTABLISHED",
    ESTABELECIDA: "ESTABLISHED",
  }),
);

const PROTO = /^(TCP|UDP)(V6)?$/i;
const PID = /^\d+$/;

export function parseNetstatWindows(text: string): RawSocket[] {
  const sockets: RawSocket[] = [];
  for (const line of text.split(/\r?\n/)) {
    const socket = parseRow(line);
    if (socket) sockets.push(socket);
  }
  return sockets;
}

function parseRow(line: string): RawSocket | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 4) return undefined;
  const proto = PROTO.exec(fields[0]!);
  const pidText = fields[fields.length - 1]!;
  if (!proto || !PID.test(pidText)) return undefined;
  const local = parseEndpoint(fields[1]!);
  const remote = parseEndpoint(fields[2]!);
  if (!local || !remote) return undefined;
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid)) return undefined;

  const family: 4 | 6 = local.family || remote.family || 4;
  const transport = proto[1]!.toUpperCase() === "TCP" ? "tcp" : "udp";
  const stateWords = fields.slice(3, -1).join(" ");
  // An unspecified peer on port 0 (a listener's) is no peer, as on Linux.
  const connected = !(remote.port === 0 && (remote.address === "" || isUnspecified(remote.address)));
  let state: string;
  if (transport === "udp") {
    // Windows never shows a UDP peer, but a concrete one would mean a
    // connected socket, as on the other platforms.
    state = connected ? "ESTABLISHED" : "UNCONN";
  } else {
    if (stateWords === "") return undefined;
    state = tcpState(stateWords, remote);
  }
  return {
    transport,
    family,
    localAddress: local.address === "" ? (family === 6 ? "::" : "0.0.0.0") : local.address,
    localPort: local.port,
    remoteAddress: connected ? remote.address : "",
    remotePort: connected ? remote.port : 0,
    state,
    pid,
    uid: -1,
    inode: 0,
    netns: 0,
  };
}

function tcpState(words: string, remote: Endpoint): string {
  const upper = words.toUpperCase();
  const english = ENGLISH_STATES.get(upper);
  if (english) return english;
  const localized = LOCALIZED_STATES.get(stateSkeleton(upper));
  if (localized) return localized;
  // Windows shows every listener, and only listeners, with an unspecified
  // peer on port 0, whatever the state is called in this language.
  if (remote.port === 0 && isUnspecified(remote.address)) return "LISTEN";
  return upper.replace(/\s+/g, "_");
}

function isUnspecified(address: string): boolean {
  return address === "0.0.0.0" || address === "::";
}

/** Keeps only A-Z and "_" (spaces become "_"): accented letters vanish whether they were decoded right or not. */
function stateSkeleton(upper: string): string {
  return upper.replace(/\s+/g, "_").replace(/[^A-Z_]/g, "");
}
