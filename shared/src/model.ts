// The records a snapshot is made of, as plain objects with every field
// present. They mirror oddwire.proto's Process, Socket and Snapshot (whose
// generated interfaces make every field optional); keep the two in step.

export type OsName = "linux" | "windows" | "darwin";
/** raw: raw IP sockets; icmp: ping sockets; packet: AF_PACKET (link-layer frames). */
export type Transport = "tcp" | "udp" | "raw" | "icmp" | "packet";
export type Direction = "listen" | "outbound" | "inbound";

export interface Tag {
  /** A stable code from TAG (see tags.ts). */
  code: string;
  /** The reason in words, for the person reading the report. */
  reason: string;
}

export interface ProcessRecord {
  pid: number;
  ppid: number;
  name: string;
  exe: string;
  cmdline: string;
  user: string;
  /** -1 when the platform does not say. */
  uid: number;
  startedAtMs: number;
  sha256: string;
  hashError: string;
  exeDeleted: boolean;
  tags: Tag[];
  /** The installed package the executable belongs to; "" none (when packageSource is set) or unknown. */
  package?: string;
  /** The package database that answered ("dpkg"); "" when none could. */
  packageSource?: string;
  /** When the executable file came to this host (birth time, else ctime); 0 unknown. */
  exeSinceMs?: number;
}

export interface SocketRecord {
  transport: Transport;
  /** 0 for packet sockets, which are below IP. */
  family: 0 | 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** LISTEN, ESTABLISHED, TIME_WAIT...; UNCONN for an unconnected UDP socket. */
  state: string;
  /** 0 when no visible process owns the socket. */
  pid: number;
  uid: number;
  inode: number;
  netns: number;
  protocol: string;
  direction: Direction;
  tags: Tag[];
  /** Raw sockets: the IP protocol number; packet sockets: the ethertype; absent for tcp and udp. */
  rawProtocol?: number;
  /** Community ID v1 ("1:..."); "" where no ID exists (packet sockets). Always set by the agent; optional for older records. */
  communityId?: string;
  /** What the traffic was, when one of its flows was classified (--dpi). */
  wire?: WireInfoRecord;
  /** Destination names the traffic carried (TLS SNI, HTTP Host, DNS question, SSH software). */
  destinationNames?: string[];
}

/** What the wire showed for a flow beside what its port implies (see oddwire.proto WireInfo). */
export interface WireInfoRecord {
  portProtocol: string;
  /** "" when the engine could not identify it. */
  wireProtocol: string;
  confidence: string;
  risks: string[];
  bytes: number;
  packets: number;
}

/** A classified flow joined to its process where the agent saw one (see oddwire.proto Flow). */
export interface FlowRecord {
  transport: "tcp" | "udp";
  family: 4 | 6;
  clientAddress: string;
  clientPort: number;
  serverAddress: string;
  serverPort: number;
  communityId: string;
  wire: WireInfoRecord;
  destinationNames: string[];
  firstSeenMs: number;
  lastSeenMs: number;
  /** pid 0 when no socket or connection record matched. */
  process: ProcessRecord;
  direction: "outbound" | "inbound" | "";
  tags: Tag[];
}

/** What protocol identification could see and what its caps left unclassified (see oddwire.proto DpiVisibility). */
export interface DpiVisibilityRecord {
  mode: "on" | "off";
  reason: string;
  interfaces: string[];
  flowsClassified: number;
  unclassifiedRate: number;
  unclassifiedWindow: number;
  packetsDropped: number;
}

/** A connection seen as it was made, folded per process and destination within a batch (see oddwire.proto). */
export interface ConnectionRecord {
  transport: "tcp" | "udp";
  direction: "outbound" | "inbound";
  family: 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  protocol: string;
  firstSeenMs: number;
  lastSeenMs: number;
  count: number;
  failed: number;
  process: ProcessRecord;
  /** Executables of the parents, nearest first. */
  ancestry: string[];
  tags: Tag[];
  beacon?: BeaconRecord;
  /** Community ID of the latest classified flow joined to this record; "" when none was. */
  communityId?: string;
  wire?: WireInfoRecord;
  destinationNames?: string[];
}

export interface BeaconRecord {
  intervalMs: number;
  jitterMs: number;
  count: number;
  spanMs: number;
}

export interface VisibilityRecord {
  mode: "events+snapshots" | "snapshots";
  reason: string;
  eventsAccepted: number;
  droppedRate: number;
  droppedRecords: number;
  droppedKernel: number;
}

export interface HostFactsRecord {
  distro: string;
  release: string;
  kernel: string;
  virtualization: string;
  hardwareVendor: string;
  hardwareModel: string;
}

export interface SnapshotRecord {
  hostId: string;
  hostname: string;
  os: OsName;
  osVersion: string;
  arch: string;
  agentVersion: string;
  takenAtMs: number;
  processes: ProcessRecord[];
  sockets: SocketRecord[];
  partial: boolean;
  warnings: string[];
  /** Connections since the previous batch (hosts with events). */
  connections?: ConnectionRecord[];
  visibility?: VisibilityRecord;
  facts?: HostFactsRecord;
  /** Flows classified since the previous batch (--dpi). */
  flows?: FlowRecord[];
  dpi?: DpiVisibilityRecord;
  /** Which knowledge judged the tags (KnowledgeBase.version). */
  knowledgeVersion?: string;
}

/** What a host id may be: the agent's own are UUIDs; replayed ones are what the file says. */
export const HOST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
