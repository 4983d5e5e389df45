// The subscriber on real ZeroMQ sockets over loopback (node --test): a publisher in this process
// sends posecast-shaped messages to a PosecastSubscriber.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";

import { encode } from "@msgpack/msgpack";
import * as zmq from "zeromq";

import { MAX_MESSAGE_BYTES, PosecastSubscriber, SchemaError, TimeoutError } from "../index.js";

function pose(frameId) {
  const joints = Array.from({ length: 17 }, (_, i) => [i * 0.1, -i * 0.05, 2.5]);
  return encode({
    schema_version: 1, frame_id: frameId, capture_ns: 1000n + BigInt(frameId), publish_ns: 2000n + BigInt(frameId),
    publish_unix_ns: 1796166938799422536n, tracking: "tracking", joints_m: joints, confidence: Array(17).fill(0.5),
    root_m: joints[0], frame: "camera_xright_ydown_zforward", latency_ms: { keypoints2d: 17.5 },
  }, { useBigInt64: true });
}

/** A bound publisher and a subscriber connected to it, past ZeroMQ's slow-joiner gap. */
async function connected(options = {}) {
  const publisher = new zmq.Publisher({ linger: 0 });
  await publisher.bind("tcp://127.0.0.1:*");
  const sub = new PosecastSubscriber(publisher.lastEndpoint, { timeoutMs: 50, ...options });
  for (let tries = 0; ; tries++) { // a probe pose until the subscription has reached the publisher
    await publisher.send(["pose", pose(0)]);
    try {
      await sub.next();
      break;
    } catch (err) {
      if (!(err instanceof TimeoutError) || tries > 100) throw err;
    }
  }
  sub.socket.receiveTimeout = 2000;
  return { publisher, sub };
}

test("nextAll returns what is waiting, oldest first, without waiting for more", async () => {
  const { publisher, sub } = await connected();
  try {
    for (let id = 1; id <= 5; id++) await publisher.send(["pose", pose(id)]);
    await sleep(200); // all five in the subscriber's queue
    const batch = await sub.nextAll();
    assert.deepEqual(batch.map(({ message }) => message.frame_id), [1, 2, 3, 4, 5]);
    assert.equal(sub.socket.receiveTimeout, 2000); // the caller's timeout is back
    for (let id = 6; id <= 8; id++) await publisher.send(["pose", pose(id)]);
    await sleep(200);
    assert.deepEqual((await sub.nextAll(2)).map(({ message }) => message.frame_id), [6, 7]);
    assert.deepEqual((await sub.nextAll()).map(({ message }) => message.frame_id), [8]);
    await assert.rejects(sub.nextAll(0), RangeError);
  } finally {
    sub.close();
    publisher.close();
  }
});

test("a message off the schema ends a batch and is thrown by the next call", async () => {
  const { publisher, sub } = await connected();
  try {
    await publisher.send(["pose", pose(1)]);
    await publisher.send(["pose", encode({ schema_version: 1 })]);
    await publisher.send(["pose", pose(2)]);
    await sleep(200);
    assert.deepEqual((await sub.nextAll()).map(({ message }) => message.frame_id), [1]);
    await assert.rejects(sub.next(), SchemaError);
    assert.equal((await sub.next()).message.frame_id, 2);
  } finally {
    sub.close();
    publisher.close();
  }
});

test("a message over 1 MiB is never delivered", async () => {
  const { publisher, sub } = await connected();
  try {
    const big = Buffer.alloc(MAX_MESSAGE_BYTES + 1024, 0x61);
    await publisher.send(["pose", big]);
    await sleep(200);
    sub.socket.receiveTimeout = 500;
    // ZeroMQ drops the connection of a peer that sends one: nothing more comes from it
    await assert.rejects(sub.next(), TimeoutError);
  } finally {
    sub.close();
    publisher.close();
  }
});

test("runIndex counts the publisher's runs: one more when frame_id goes back", async () => {
  const { publisher, sub } = await connected();
  try {
    for (const id of [5, 6, 7, 0, 1, 3, 0]) await publisher.send(["pose", pose(id)]);
    await sleep(200);
    // a nextAll() batch holds one run: the new run's first pose opens the next one (however the
    // messages arrived: all at once, here)
    const frames = [], runs = [];
    while (frames.length < 7) {
      const batch = await sub.nextAll();
      assert.equal(new Set(batch.map(({ runIndex }) => runIndex)).size, 1);
      assert.equal(batch[batch.length - 1].runIndex, sub.runIndex);
      frames.push(...batch.map(({ message }) => message.frame_id));
      runs.push(...batch.map(({ runIndex }) => runIndex));
    }
    assert.deepEqual(frames, [5, 6, 7, 0, 1, 3, 0]);
    assert.deepEqual(runs, [0, 0, 0, 1, 1, 1, 2]);
  } finally {
    sub.close();
    publisher.close();
  }
});
