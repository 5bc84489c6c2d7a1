// A RawSocket with every field at its empty value, for parser expectations.
export const rawSocket = (over: Record<string, unknown>) => ({
  transport: "tcp",
  family: 4,
  localAddress: "",
  localPort: 0,
  remoteAddress: "",
  remotePort: 0,
  state: "",
  pid: 0,
  uid: -1,
  inode: 0,
  netns: 0,
  ...over,
});
