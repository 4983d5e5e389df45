// posecast client for Node.js: subscribe to a posecast stream and get decoded, checked messages.
//
//   import { PosecastSubscriber } from "posecast-client";
//   const sub = new PosecastSubscriber("tcp://127.0.0.1:5555");
//   for await (const { topic, message } of sub) {
//     if (topic === "pose" && message.tracking === "tracking") console.log(message.joints_m[10]);
//   }

import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

import * as zmq from "zeromq";

import { AddressError, DEFAULT_ADDRESS, parseAddress } from "./address.js";
import { SchemaError, TOPIC_META, TOPIC_POSE, decodeMessage } from "./schema.js";

export * from "./address.js";
export * from "./schema.js";

/** The longest receive timeout ZeroMQ takes (a 32-bit count of milliseconds, about 24.8 days). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The largest message taken, as posecast's own readers (docs/protocol.md): a peer that sends a
 * larger one is disconnected by ZeroMQ before it fills memory. A pose message is a few KiB.
 */
export const MAX_MESSAGE_BYTES = 1 << 20;

/**
 * A subscriber that connects and has heard nothing for this long (a publisher repeats its meta
 * every second) connects again, as posecast's own readers do (posecast/realtime/endpoints.py):
 * ZeroMQ reconnects by itself only when a break is signalled (FIN, RST), and a path that died
 * silently (Wi-Fi roaming, a laptop waking from sleep, an access point's reboot, a NAT that forgot
 * the flow) left it without a message for ever (network QA). Not ZeroMQ's heartbeats on this
 * socket: libzmq 4.3.5 times out a subscriber whose queue is full (a reader that paused for 4 s)
 * and then aborts the process ("Assertion failed: _input_stopped", zeromq/libzmq#3937); this acts
 * only while a `next()` waits, when nothing is queued.
 */
export const SILENT_RECONNECT_MS = 3000;

/** No message arrived within `timeoutMs`. */
export class TimeoutError extends Error {
  constructor(message) {
    super(message);
    this.name = "TimeoutError";
  }
}

/**
 * A ZeroMQ SUB socket on a posecast stream.
 *
 * `address`: `tcp://HOST:PORT` or `ipc://PATH` to connect to (the publisher binds), or
 * `bind:tcp://HOST:PORT` / `bind:ipc://PATH` when the publisher connects (see `parseAddress`).
 * Options: `topics` (default pose and meta), `timeoutMs` (reject `next()` with TimeoutError
 * after that long without a message, 0..MAX_TIMEOUT_MS; default -1: wait forever),
 * `receiveHighWaterMark` (messages queued before ZeroMQ drops; default 16).
 *
 * The constructor throws AddressError for an address that is not one of those forms or that
 * ZeroMQ refuses, RangeError for a bad option; a bind that fails (address in use, not an address
 * of this machine) rejects the first `next()` with AddressError.
 *
 * Iterating yields `{topic, message, newerSchema, runIndex}`; a message that breaks the schema
 * rejects with SchemaError (catch it and go on to skip it: `next()` again reads the following one).
 * `runIndex` (also `subscriber.runIndex`) is 0 for the first run heard and one more each time the
 * publisher started again (a restarted `posecast run` counts frame_id and person_id from 0): a
 * reader keeping state per person drops it when `runIndex` changes. With several publishers on
 * one address their frames interleave and it counts their alternations.
 */
export class PosecastSubscriber {
  constructor(address = DEFAULT_ADDRESS, { topics = [TOPIC_POSE, TOPIC_META], timeoutMs = -1, receiveHighWaterMark = 16 } = {}) {
    const { bind, endpoint } = parseAddress(address);
    if (!(timeoutMs === -1 || (Number.isInteger(timeoutMs) && timeoutMs >= 0 && timeoutMs <= MAX_TIMEOUT_MS))) {
      throw new RangeError(`timeoutMs must be -1 (wait forever) or an integer from 0 to ${MAX_TIMEOUT_MS}, got ${timeoutMs}`);
    }
    if (!(Number.isInteger(receiveHighWaterMark) && receiveHighWaterMark >= 0 && receiveHighWaterMark <= MAX_TIMEOUT_MS)) {
      throw new RangeError(`receiveHighWaterMark must be an integer from 0 (no limit) to ${MAX_TIMEOUT_MS}, got ${receiveHighWaterMark}`);
    }
    this.address = address;
    // ipv6 for an IPv6 address only, as posecast's own sockets (off, ZeroMQ's default, such a
    // subscriber heard nothing and such a bind failed: QA); on, IPv4 endpoints are named [::ffff:…]
    this.socket = new zmq.Subscriber({ linger: 0, receiveHighWaterMark, receiveTimeout: timeoutMs, maxMessageSize: MAX_MESSAGE_BYTES,
      ipv6: endpoint.includes("[") });
    this._pendingError = null; // a message off the schema that ended a nextAll() batch: thrown by the next call
    // which run of the publisher the last pose came from: 0 for the first heard, one more each time a
    // pose's frame_id is lower than the previous pose's (docs/protocol.md, "A new run")
    this.runIndex = 0;
    this._lastPoseFrameId = -1;
    this._held = null; // a new run's first message, which ended a nextAll() batch
    this._reconnectTo = bind ? null : endpoint; // (bound: a publisher that connects reconnects by its heartbeats)
    this._quietSinceMs = performance.now();
    for (const topic of topics) this.socket.subscribe(topic);
    if (bind) {
      this.ready = this.socket.bind(endpoint).catch((err) => {
        throw new AddressError(bindProblem(address, endpoint, err), address);
      });
      this.ready.catch(() => {}); // handled: the first next() rethrows it, however late it comes
    } else {
      const connect = () => {
        try {
          this.socket.connect(endpoint);
        } catch (err) {
          this.socket.close();
          throw new AddressError(`cannot connect to ${address} (${err.message}): pass e.g. ${DEFAULT_ADDRESS}`, address);
        }
      };
      const host = hostToResolve(endpoint);
      if (host === null) {
        connect();
        this.ready = Promise.resolve();
      } else {
        // a name that does not resolve: ZeroMQ would retry it for ever and the subscriber wait
        // without a word, so it is looked up first (the first next() rethrows the failure)
        this.ready = lookup(host).then(connect, (err) => {
          this.socket.close();
          throw new AddressError(`cannot resolve the host ${JSON.stringify(host)} of ${endpoint} (${err.code}): check the name, or pass an IP address, e.g. ${DEFAULT_ADDRESS}`, address);
        });
        this.ready.catch(() => {});
      }
    }
  }

  /**
   * `bind:ENDPOINT` as bound, the port ZeroMQ chose in place of 0 or `*` (known once `ready`
   * has resolved); `null` for a subscriber that connects.
   */
  get boundAddress() {
    return this.address.startsWith("bind:") && this.socket.lastEndpoint ? `bind:${this.socket.lastEndpoint}` : null;
  }

  /** The next decoded message: `{topic, message, newerSchema, runIndex}`. */
  async next() {
    await this.ready;
    if (this._pendingError !== null) {
      const error = this._pendingError;
      this._pendingError = null;
      throw error;
    }
    let item = this._held; // the new run's first message, which ended a nextAll() batch
    this._held = null;
    item ??= await this._receive();
    if (item.topic === TOPIC_POSE) {
      if (this._beginsARun(item)) this.runIndex += 1;
      this._lastPoseFrameId = item.message.frame_id;
    }
    return { ...item, runIndex: this.runIndex };
  }

  /** A publisher started again counts frames from 0: its people are new, whatever their person_id. */
  _beginsARun(item) {
    return item.topic === TOPIC_POSE && item.message.frame_id < this._lastPoseFrameId;
  }

  /** The next message, decoded; nothing counted. */
  async _receive() {
    let parts;
    const watch = this._reconnectTo === null ? null : setInterval(() => this._reconnectIfSilent(), 500);
    watch?.unref();
    try {
      parts = await this.socket.receive();
    } catch (err) {
      if (err.code === "EAGAIN") {
        this._reconnectIfSilent(); // (a reader that polls with timeoutMs 0 never waits)
        throw new TimeoutError(`no message from ${this.boundAddress ?? this.address} in ${this.socket.receiveTimeout} ms: is posecast publishing there?`);
      }
      throw err;
    } finally {
      clearInterval(watch);
    }
    this._quietSinceMs = performance.now();
    if (parts.length !== 2) throw new SchemaError(`expected a two-part message [topic, payload], got ${parts.length} parts`);
    return decodeMessage(parts[0], parts[1]);
  }

  /** Connect again when nothing came for SILENT_RECONNECT_MS (called while nothing is queued). */
  _reconnectIfSilent() {
    if (this.socket.closed || performance.now() - this._quietSinceMs < SILENT_RECONNECT_MS) return;
    this._quietSinceMs = performance.now();
    try {
      this.socket.disconnect(this._reconnectTo);
    } catch {} // not connected: nothing to end
    try {
      this.socket.connect(this._reconnectTo);
    } catch {} // (out of file descriptors, say: tried again SILENT_RECONNECT_MS later; a throw here, in a timer, ended the process)
  }

  /**
   * The messages waiting now, oldest first: waits for the first as `next()` does, then takes
   * what is queued without waiting, at most `maxMessages`. A reader that draws once per frame of
   * its own should take them all and use each person's newest pose: one `next()` per drawn frame
   * reads ever older poses once the stream is faster than the drawing (ZeroMQ's queue and the
   * kernel's buffers hold them in order). A message off the schema after good ones ends the
   * batch, which is returned; the next `next()` or `nextAll()` throws its SchemaError. A batch
   * holds one run of the publisher: the new run's first pose ends it and opens the next batch.
   */
  async nextAll(maxMessages = 1000) {
    if (!(Number.isInteger(maxMessages) && maxMessages >= 1)) {
      throw new RangeError(`maxMessages must be an integer, 1 or more, got ${maxMessages}`);
    }
    const messages = [await this.next()];
    const timeoutMs = this.socket.receiveTimeout;
    this.socket.receiveTimeout = 0; // what is queued, without waiting
    try {
      while (messages.length < maxMessages) {
        let item;
        try {
          item = await this._receive();
        } catch (err) {
          if (err instanceof SchemaError) this._pendingError = err;
          else if (!(err instanceof TimeoutError)) throw err;
          break;
        }
        if (this._beginsARun(item)) { // kept for the next call, which counts the run
          this._held = item;
          break;
        }
        if (item.topic === TOPIC_POSE) this._lastPoseFrameId = item.message.frame_id;
        messages.push({ ...item, runIndex: this.runIndex });
      }
    } finally {
      if (!this.socket.closed) this.socket.receiveTimeout = timeoutMs;
    }
    return messages;
  }

  async *[Symbol.asyncIterator]() {
    while (!this.socket.closed) yield await this.next();
  }

  close() {
    if (!this.socket.closed) this.socket.close();
  }
}

/** The host name of a `tcp://HOST:PORT` endpoint to look up, or null (an IP address, an ipc:// path). */
function hostToResolve(endpoint) {
  if (!endpoint.startsWith("tcp://")) return null;
  const rest = endpoint.slice("tcp://".length);
  // ZeroMQ's tcp://SOURCE;HOST:PORT names the host last; an IPv6 host is in brackets
  const host = rest.slice(0, rest.lastIndexOf(":")).split(";").pop().replace(/^\[|\]$/g, "");
  return isIP(host) ? null : host;
}

/** What went wrong binding `endpoint` (of `address`), and the fix, in one line. */
function bindProblem(address, endpoint, err) {
  if (err.code === "EADDRINUSE") return `${endpoint} is in use: another program listens there? pass another port, or bind:tcp://127.0.0.1:0 for any free one`;
  if (err.code === "EADDRNOTAVAIL") return `cannot bind ${endpoint} (${err.message}): bind an address of this machine, e.g. bind:tcp://127.0.0.1:5555`;
  if (err.code === "ENOENT") return `cannot bind ${endpoint} (${err.message}): the folder of the ipc:// path must exist`;
  return `cannot bind ${endpoint} (${err.message}): pass e.g. bind:tcp://127.0.0.1:5555 (given: ${address})`;
}
