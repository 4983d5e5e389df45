// Unit tests of the schema checks (node --test). The live test against a real Python publisher
// is tests/clients/test_node_client.py in the posecast repository.
import assert from "node:assert/strict";
import { test } from "node:test";

import { encode } from "@msgpack/msgpack";

import { SchemaError, decodeMessage, toJSON } from "../schema.js";

function pose(overrides = {}) {
  const joints = Array.from({ length: 17 }, (_, i) => [i * 0.1, -i * 0.05, 2.5]);
  return {
    schema_version: 1,
    frame_id: 7,
    capture_ns: 123456789012345n,
    publish_ns: 123456790012345n,
    publish_unix_ns: 1796166938799422536n,
    tracking: "tracking",
    joints_m: joints,
    confidence: Array(17).fill(0.5),
    root_m: joints[0],
    frame: "camera_xright_ydown_zforward",
    latency_ms: { keypoints2d: 17.5 },
    ...overrides,
  };
}

const packed = (m) => encode(m, { useBigInt64: true });

test("a schema 1 pose decodes with exact 64-bit timestamps", () => {
  const { topic, message, newerSchema } = decodeMessage(Buffer.from("pose"), packed(pose()));
  assert.equal(topic, "pose");
  assert.equal(newerSchema, false);
  assert.equal(message.publish_unix_ns, 1796166938799422536n);
  assert.deepEqual(message.joints_m[3], [0.30000000000000004, -0.15000000000000002, 2.5]);
});

test("small timestamps become BigInt too", () => {
  const { message } = decodeMessage("pose", packed(pose({ capture_ns: 5, publish_ns: 6 })));
  assert.equal(message.capture_ns, 5n);
  assert.equal(message.publish_ns - message.capture_ns, 1n);
});

test("schema 2 needs person_id", () => {
  assert.throws(() => decodeMessage("pose", packed(pose({ schema_version: 2 }))), (e) => e instanceof SchemaError && e.field === "person_id");
  const { message } = decodeMessage("pose", packed(pose({ schema_version: 2, person_id: 3 })));
  assert.equal(message.person_id, 3);
});

test("a newer schema is read, unknown keys kept, and flagged", () => {
  const { message, newerSchema } = decodeMessage("pose", packed(pose({ schema_version: 9, person_id: 0, future: [1, 2] })));
  assert.equal(newerSchema, true);
  assert.deepEqual(message.future, [1, 2]);
});

for (const [field, value] of [
  ["schema_version", 0],
  ["frame_id", -1],
  ["capture_ns", "now"],
  ["tracking", "maybe"],
  ["frame", 3],
  ["joints_m", [[0, 0, 0]]],
  ["confidence", Array(16).fill(1)],
  ["root_m", [0, 0, "x"]],
  ["latency_ms", [1, 2]],
]) {
  test(`bad ${field} is named`, () => {
    assert.throws(() => decodeMessage("pose", packed(pose({ [field]: value }))), (e) => e instanceof SchemaError && e.field === field);
  });
}

test("a missing field is named", () => {
  const m = pose();
  delete m.root_m;
  assert.throws(() => decodeMessage("pose", packed(m)), /field 'root_m' is missing/);
});

const meta = () => ({
  schema_version: 1, joint_names: Array.from({ length: 17 }, (_, i) => `j${i}`),
  parents: Array.from({ length: 17 }, (_, i) => i - 1), frame: "f", units: "m", publish_ns: 5,
});

test("meta needs the 17 joint names and parents of the same length", () => {
  assert.equal(decodeMessage("meta", packed(meta())).message.publish_ns, 5n);
  assert.throws(() => decodeMessage("meta", packed({ ...meta(), parents: [-1] })), /parents/);
  assert.throws(() => decodeMessage("meta", packed({ ...meta(), units: undefined })), /units/);
  assert.throws(() => decodeMessage("meta", packed({ ...meta(), joint_names: ["a", "b", "c"], parents: [-1, 0, 1] })),
    /must name the 17 joints, got 3/);
});

// QA: the Python decoder refused these and this client took them (NaN joints came out as null)
for (const [field, value] of [
  ["joints_m", Array.from({ length: 17 }, () => [NaN, 0, 1])],
  ["joints_m", Array.from({ length: 17 }, () => [1e300, 0, 1])],
  ["confidence", Array(17).fill(2.0)],
  ["root_m", [0, Infinity, 3]],
  ["source_stalled_s", -1],
  ["source_stalled_s", NaN],
  ["frame", "world"],
  ["latency_ms", { lift: NaN }],
  ["latency_ms", { lift: true }],
  ["root_height_m", NaN],
  ["face_m", Array.from({ length: 4 }, () => [0, 0, 1])],
  ["face_m", Array.from({ length: 5 }, () => [0, NaN, 1])],
  ["foot_contact", [true]],
  ["foot_contact", [1, 0]],
  ["frame_pose", [1, 2]],
  ["frame_pose", { frame: "unity", units: "m", rotations: Array(17).fill([0, 0, 0, 1]) }],
  ["frame_pose", { frame: "unity", units: "m", joints: Array(17).fill([0, 1, 0]), rotations: Array(17).fill([0, 0, 1]) }],
  ["frame_pose", { frame: "unity", units: "m", joints: Array(17).fill([0, NaN, 0]), rotations: Array(17).fill([0, 0, 0, 1]) }],
  ["frame_pose", { frame: 3, units: "m", joints: Array(17).fill([0, 1, 0]), rotations: Array(17).fill([0, 0, 0, 1]) }],
]) {
  test(`a pose's ${field} of ${JSON.stringify(value).slice(0, 30)} is refused`, () => {
    assert.throws(() => decodeMessage("pose", packed(pose({ [field]: value }))), (e) => e instanceof SchemaError && e.field === field);
  });
}

for (const [field, value] of [["assumptions", [1, 2]], ["max_people", -1], ["source_fps", "30"], ["meta_interval_s", 0]]) {
  test(`a meta's ${field} of ${JSON.stringify(value)} is refused`, () => {
    assert.throws(() => decodeMessage("meta", packed({ ...meta(), [field]: value })), (e) => e instanceof SchemaError && e.field === field);
  });
}

test("a schema version beyond 2**53 or sent as a string is refused, the string in quotes", () => {
  assert.throws(() => decodeMessage("pose", packed(pose({ schema_version: 2n ** 64n - 1n }))), /schema_version/);
  assert.throws(() => decodeMessage("pose", packed(pose({ schema_version: "2" }))), /got "2"/);
});

test("not msgpack, not a map, unknown topic", () => {
  assert.throws(() => decodeMessage("pose", Buffer.from([0xc1])), /not msgpack/);
  assert.throws(() => decodeMessage("pose", packed([1, 2])), /not a msgpack map/);
  assert.throws(() => decodeMessage("other", packed(pose())), /unknown topic/);
});

test("toJSON writes BigInt as exact integer digits", () => {
  const text = toJSON({ a: 1796166938799422536n, b: [1.5], c: "x" });
  assert.equal(text, '{"a":1796166938799422536,"b":[1.5],"c":"x"}');
});

test("a message nested deeper than 32 is refused, not a stack overflow (security QA)", () => {
  let deep = 0;
  for (let i = 0; i < 60; i++) deep = [deep]; // (the encoder goes to 100; QA crafted 5,000 by hand)
  assert.throws(() => decodeMessage("pose", packed(pose({ extra: deep }))),
    (err) => err instanceof SchemaError && /nests lists and maps more than 32 deep/.test(err.message));
  let shallow = 0;
  for (let i = 0; i < 20; i++) shallow = [shallow];
  assert.equal(decodeMessage("pose", packed(pose({ extra: shallow }))).message.frame_id, 7);
});

test("toJSON writes DEL and the C1 controls as escapes (review: U+009B is a terminal's CSI)", () => {
  assert.equal(toJSON({ note: "a\u009b2Jb\u007fc\u001b" }), '{"note":"a\\u009b2Jb\\u007fc\\u001b"}');
});
