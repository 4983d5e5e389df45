// Stream addresses: the forms `posecast listen` (Python) accepts, checked before ZeroMQ sees them,
// so that a typo is one line naming the problem and the fix, not a native stack trace or a
// subscriber that waits forever on a port that cannot exist.

export const DEFAULT_ADDRESS = "tcp://127.0.0.1:5555";

/** An address that is not a posecast stream address (`.address` is the one given). */
export class AddressError extends Error {
  constructor(message, address) {
    super(message);
    this.name = "AddressError";
    this.address = address;
  }
}

const EXAMPLE = `pass e.g. ${DEFAULT_ADDRESS}`;

function tcpEndpoint(address, endpoint, bind) {
  const rest = endpoint.slice("tcp://".length);
  const colon = rest.lastIndexOf(":");
  const closing = rest.lastIndexOf("]");
  if (colon < 0 || colon < closing) throw new AddressError(`address ${address} has no port: expected tcp://HOST:PORT, ${EXAMPLE}`, address);
  const host = rest.slice(0, colon);
  const port = rest.slice(colon + 1);
  if (host === "") throw new AddressError(`address ${address} has no host: expected tcp://HOST:PORT, ${EXAMPLE}`, address);
  if (host.startsWith("[") !== host.endsWith("]")) {
    throw new AddressError(`host ${host} of ${address} has an unclosed bracket: write an IPv6 host as [::1], e.g. tcp://[::1]:5555`, address);
  }
  if (host === "*" && !bind) {
    throw new AddressError(`address ${address}: * (every interface) can only be bound: connect to the publisher's host (e.g. ${DEFAULT_ADDRESS}) or bind with bind:${endpoint}`, address);
  }
  if (bind && (port === "*" || port === "0")) return; // any free port
  const anyFree = bind ? ", or port 0 for any free one" : "";
  if (!/^[0-9]+$/.test(port)) throw new AddressError(`port "${port}" of ${address} is not a number from 1 to 65535: ${EXAMPLE}${anyFree}`, address);
  const number = Number(port);
  if (!(number >= 1 && number <= 65535)) throw new AddressError(`port ${port} of ${address} is outside 1..65535: ${EXAMPLE}${anyFree}`, address);
}

/**
 * `{bind, endpoint}` of a posecast stream address, or an AddressError naming the problem and
 * the fix. The forms (those `posecast listen` accepts):
 *
 * - `tcp://HOST:PORT` connects to a publisher that binds; PORT 1..65535, HOST a name, an IPv4
 *   address or `[IPv6]`;
 * - `ipc://PATH` connects to a publisher bound on a Unix socket path;
 * - `bind:` before either binds instead (the publisher connects); a bound TCP port may be `0` or
 *   `*` (any free port) and HOST `*` (every interface).
 *
 * `inproc://` is refused: it reaches only sockets inside one process, never a posecast publisher.
 */
export function parseAddress(address) {
  if (typeof address !== "string" || address === "") throw new AddressError(`the address is empty: ${EXAMPLE}`, address);
  if (/\s/.test(address)) throw new AddressError(`address ${JSON.stringify(address)} contains white space: ${EXAMPLE}`, address);
  const bind = address.startsWith("bind:");
  const endpoint = bind ? address.slice("bind:".length) : address;
  if (endpoint.startsWith("tcp://")) {
    tcpEndpoint(address, endpoint, bind);
  } else if (endpoint.startsWith("ipc://")) {
    if (endpoint === "ipc://") throw new AddressError(`address ${address} has no path: expected ipc://PATH, e.g. ipc:///tmp/posecast`, address);
  } else if (endpoint.startsWith("inproc://")) {
    throw new AddressError(`address ${address}: inproc:// reaches only sockets inside one process, never a posecast publisher: ${EXAMPLE} or ipc://PATH`, address);
  } else {
    throw new AddressError(`address ${JSON.stringify(address)} is not tcp://HOST:PORT or ipc://PATH (bind:ADDRESS to bind): ${EXAMPLE}`, address);
  }
  return { bind, endpoint };
}
