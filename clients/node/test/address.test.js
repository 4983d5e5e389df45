// Unit tests of the address checks and of PosecastSubscriber's refusals (node --test). The CLI's
// one-line errors, against real sockets, are in tests/clients/test_node_client.py.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AddressError, PosecastSubscriber, parseAddress } from "../index.js";

test("the forms posecast listen takes are accepted", () => {
  assert.deepEqual(parseAddress("tcp://127.0.0.1:5555"), { bind: false, endpoint: "tcp://127.0.0.1:5555" });
  assert.deepEqual(parseAddress("tcp://localhost:1"), { bind: false, endpoint: "tcp://localhost:1" });
  assert.deepEqual(parseAddress("tcp://[::1]:65535"), { bind: false, endpoint: "tcp://[::1]:65535" });
  assert.deepEqual(parseAddress("ipc:///tmp/posecast"), { bind: false, endpoint: "ipc:///tmp/posecast" });
  assert.deepEqual(parseAddress("bind:tcp://127.0.0.1:0"), { bind: true, endpoint: "tcp://127.0.0.1:0" });
  assert.deepEqual(parseAddress("bind:tcp://*:*"), { bind: true, endpoint: "tcp://*:*" });
  assert.deepEqual(parseAddress("bind:ipc:///tmp/posecast"), { bind: true, endpoint: "ipc:///tmp/posecast" });
});

const refused = [
  ["foo", /"foo" is not tcp:\/\/HOST:PORT or ipc:\/\/PATH/],
  ["", /empty/],
  ["tcp://127.0.0.1:99999", /port 99999 .* outside 1\.\.65535/],
  ["tcp://127.0.0.1:65536", /outside 1\.\.65535/],
  ["tcp://127.0.0.1:0", /port 0 .* outside 1\.\.65535/], // connecting: port 0 is no port
  ["bind:tcp://127.0.0.1:70000", /outside 1\.\.65535: .*port 0 for any free one/],
  ["tcp://127.0.0.1:abc", /port "abc" .* not a number/],
  ["tcp://127.0.0.1:+5555", /not a number/],
  ["tcp://127.0.0.1", /has no port/],
  ["tcp://[::1]", /has no port/],
  ["tcp://:5555", /has no host/],
  ["tcp://[::1:5555", /unclosed bracket/],
  ["tcp://*:5555", /can only be bound.*bind:tcp:\/\/\*:5555/],
  ["tcp:// 127.0.0.1:5555", /white space/],
  ["ipc://", /has no path/],
  ["inproc://posecast", /inside one process/],
  ["udp://127.0.0.1:5555", /is not tcp:\/\/HOST:PORT/],
];

for (const [address, problem] of refused) {
  test(`${JSON.stringify(address)} is refused, naming the problem and an address that works`, () => {
    assert.throws(() => parseAddress(address), (err) => err instanceof AddressError && problem.test(err.message) && /e\.g\./.test(err.message));
    assert.throws(() => new PosecastSubscriber(address), AddressError);
  });
}

test("a receive timeout ZeroMQ cannot hold is a RangeError, not a wrapped or infinite wait", () => {
  for (const timeoutMs of [Infinity, 2 ** 31, 1.5, -2, Number.NaN]) {
    assert.throws(() => new PosecastSubscriber("tcp://127.0.0.1:5555", { timeoutMs }), RangeError, String(timeoutMs));
  }
  const sub = new PosecastSubscriber("tcp://127.0.0.1:5555", { timeoutMs: 2 ** 31 - 1 });
  assert.equal(sub.socket.receiveTimeout, 2 ** 31 - 1);
  sub.close();
});

test("a bind that fails rejects next() with an AddressError, never an unhandled rejection", async () => {
  const first = new PosecastSubscriber("bind:tcp://127.0.0.1:0");
  await first.ready;
  const taken = first.socket.lastEndpoint;
  const second = new PosecastSubscriber(`bind:${taken}`, { timeoutMs: 100 });
  await new Promise((resolve) => setTimeout(resolve, 50)); // the rejection arrives before anyone awaits it
  await assert.rejects(second.next(), (err) => err instanceof AddressError && /is in use/.test(err.message));
  second.close();
  first.close();
});
