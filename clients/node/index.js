// posecast client for Node.js: subscribe to a posecast stream and get decoded, checked messages.
//
//   import { PosecastSubscriber } from "posecast-client";
//   const sub = new PosecastSubscriber("tcp://127.0.0.1:5555");
//   for await (const { topic, message } of sub) {
//     if (topic === "pose" && message.tracking === "tracking") console.log(message.joints_m[10]);
//   }

import * as zmq from "zeromq";

import { SchemaError, TOPIC_META, TOPIC_POSE, decodeMessage } from "./schema.js";

export * from "./schema.js";

export const DEFAULT_ADDRESS = "tcp://127.0.0.1:5555";

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
 * `address`: `tcp://HOST:PORT` to connect to (the publisher binds), or `bind:tcp://HOST:PORT`
 * when the publisher connects. Options: `topics` (default pose and meta), `timeoutMs` (reject
 * `next()` with TimeoutError after that long without a message; default: wait forever),
 * `receiveHighWaterMark` (messages queued before ZeroMQ drops; default 16).
 *
 * Iterating yields `{topic, message, newerSchema}`; a message that breaks the schema rejects
 * with SchemaError (catch it and go on to skip it: `next()` again reads the following one).
 */
export class PosecastSubscriber {
  constructor(address = DEFAULT_ADDRESS, { topics = [TOPIC_POSE, TOPIC_META], timeoutMs = -1, receiveHighWaterMark = 16 } = {}) {
    this.address = address;
    this.socket = new zmq.Subscriber({ linger: 0, receiveHighWaterMark, receiveTimeout: timeoutMs });
    for (const topic of topics) this.socket.subscribe(topic);
    if (address.startsWith("bind:")) {
      this.ready = this.socket.bind(address.slice("bind:".length));
    } else {
      this.socket.connect(address);
      this.ready = Promise.resolve();
    }
  }

  /** The next decoded message: `{topic, message, newerSchema}`. */
  async next() {
    await this.ready;
    let parts;
    try {
      parts = await this.socket.receive();
    } catch (err) {
      if (err.code === "EAGAIN") {
        throw new TimeoutError(`no message from ${this.address} in ${this.socket.receiveTimeout} ms: is posecast publishing there?`);
      }
      throw err;
    }
    if (parts.length !== 2) throw new SchemaError(`expected a two-part message [topic, payload], got ${parts.length} parts`);
    return decodeMessage(parts[0], parts[1]);
  }

  async *[Symbol.asyncIterator]() {
    while (!this.socket.closed) yield await this.next();
  }

  close() {
    if (!this.socket.closed) this.socket.close();
  }
}
