// Tag codes the agent attaches to processes and sockets. Codes are part of the
// wire format and the report: never rename one, only add.

export const TAG = {
  /** The binary is known and this protocol is not among those it speaks. */
  UNEXPECTED_PROTOCOL: "unexpected-protocol",
  /** A binary that normally opens no network socket has one. */
  SILENT_BINARY_SOCKET: "silent-binary-socket",
  /** A living-off-the-land binary (LOLBAS / GTFOBins) with an outbound socket. */
  LOLBIN_OUTBOUND: "lolbin-outbound",
  /** A command shell owning an outbound connection (a reverse shell's shape). */
  SHELL_OUTBOUND: "shell-outbound",
  /** A script interpreter owning an outbound connection. */
  INTERPRETER_OUTBOUND: "interpreter-outbound",
  /** A packet socket (AF_PACKET, link-layer frames) held by a binary not known to capture. */
  PACKET_SOCKET: "packet-socket",
  /** A raw IP socket held by a binary not known to need one. */
  RAW_SOCKET: "raw-socket",
  /** An ICMP echo (ping) socket held by a binary that is not a ping tool. */
  PING_SOCKET: "ping-socket",
  /** The executable lives in a temp or world-writable directory. */
  WRITABLE_DIR_EXE: "writable-dir-exe",
  /** The executable was deleted or replaced after the process started. */
  DELETED_EXE: "deleted-exe",
  /** The process's name imitates another (a kernel thread, a system binary). */
  NAME_IMITATION: "name-imitation",

  /** A shell, interpreter or netcat-style tool listens and hands connections to a program (nc -l -e, socat TCP-LISTEN EXEC:, a one-liner). */
  BIND_SHELL: "bind-shell",
  /** An interpreter or netcat-style tool listening without a bind shell's command line (php -S, python -m http.server, nc -l). */
  TOOL_LISTEN: "tool-listen",
  /** The command line downloads from a bare IP, pipes into a shell, writes to a temp directory, is encoded, or uses /dev/tcp. */
  SUSPICIOUS_COMMAND: "suspicious-command",
  /** A destination name (from DPI or a URL in the command line) is a paste, file-sharing, tunnel, dynamic-DNS, messaging-API or IP-lookup service. */
  SUSPICIOUS_DESTINATION: "suspicious-destination",
  /** A binary the knowledge base does not know connects out to a public address. */
  UNKNOWN_BINARY_PUBLIC: "unknown-binary-public",

  /** The executable belongs to no installed package and came to the host within a week, and runs from a writable place or reaches the internet unknown. */
  NEW_UNPACKAGED_EXE: "new-unpackaged-exe",
  /** The site's own knowledge file says this must never happen here (a binary, destination, address, port or protocol). */
  SITE_NEVER: "site-never",

  /** Connections from one executable to one destination repeat at a regular interval (connection events). */
  BEACONING: "beaconing",

  /** The traffic on the wire is not the protocol its port implies (protocol identification, --dpi). */
  WIRE_MISMATCH: "wire-mismatch",
  /** The protocol identification engine flagged a risk on the flow (nDPI's flow risks). */
  WIRE_RISK: "wire-risk",
  /** The port promises a well-known protocol, and the traffic could not be identified as any. */
  WIRE_UNIDENTIFIED: "wire-unidentified",
} as const;

export type TagCode = (typeof TAG)[keyof typeof TAG];
