// posecast's wire schema in JavaScript: decode a [topic, payload] message and check it.
// The reference is docs/protocol.md in the posecast repository; the Python side is
// posecast.realtime's schema module. This file has no dependency besides @msgpack/msgpack.

import { decode } from "@msgpack/msgpack";

/** Schema versions whose every field this client knows. Newer versions are read too: their
 * known fields are checked, unknown keys are kept as they are (readers ignore unknown keys). */
export const KNOWN_SCHEMA_VERSIONS = [1, 2];
export const NUM_JOINTS = 17;
/** `face_m`: the nose, left eye, right eye, left ear and right ear, when the detector gives them in 3D. */
export const NUM_FACE_POINTS = 5;
export const TRACKING_STATES = ["tracking", "warming", "lost"];
export const TOPIC_POSE = "pose";
export const TOPIC_META = "meta";
/** The one coordinate frame of `joints_m` and `root_m` (engine frames go in `frame_pose`). */
export const COORDINATE_FRAME = "camera_xright_ydown_zforward";
/** The largest float32: a number beyond it is no float32 (the Python decoder reads them as such). */
const FLOAT32_MAX = 3.4028234663852886e38;

/** A message that does not follow posecast's schema; `field` names the first bad field. */
export class SchemaError extends Error {
  constructor(message, field = null) {
    super(message);
    this.name = "SchemaError";
    this.field = field;
  }
}

const TIMESTAMP_FIELDS = ["capture_ns", "publish_ns", "publish_unix_ns"];

function isInt(value) {
  return typeof value === "bigint" || Number.isInteger(value);
}

/** A value as the message has it, for an error: a string in quotes ("2" is not 2). */
function shown(value) {
  return typeof value === "string" ? JSON.stringify(value).slice(0, 80) : String(value).slice(0, 80);
}

function checkVersion(m) {
  const v = m.schema_version;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new SchemaError(`field 'schema_version' must be a positive int, got ${shown(v)}`, "schema_version");
  }
  return v;
}

/** A finite number (not a boolean, not a string), within [low, high]. */
function isFiniteNumber(value, low = -Infinity, high = Infinity) {
  return typeof value === "number" && Number.isFinite(value) && value >= low && value <= high;
}

function checkNonNegativeInt(m, name) {
  const value = m[name];
  if (!isInt(value) || value < 0) {
    throw new SchemaError(`field '${name}' must be a non-negative int, got ${shown(value)}`, name);
  }
}

/** Numbers of `shape`, finite as float32 and within [low, high], as the Python decoder checks them. */
function checkNumbers(m, name, shape, low = -FLOAT32_MAX, high = FLOAT32_MAX) {
  const value = m[name];
  if (value === undefined || value === null) throw new SchemaError(`field '${name}' is missing`, name);
  const rows = shape.length === 2 ? value : [value];
  const wantRows = shape.length === 2 ? shape[0] : 1;
  const wantCols = shape[shape.length - 1];
  const bad = () => new SchemaError(`field '${name}' must hold numbers of shape [${shape}]`, name);
  if (!Array.isArray(rows) || rows.length !== wantRows) throw bad();
  for (const row of rows) {
    if (!Array.isArray(row) || row.length !== wantCols) throw bad();
    for (const x of row) {
      if (typeof x !== "number") throw bad();
      if (!isFiniteNumber(x, low, high)) {
        const range = low === -FLOAT32_MAX ? "" : ` from ${low} to ${high}`;
        throw new SchemaError(`field '${name}' must hold finite numbers${range}, got ${x}`, name);
      }
    }
  }
}

/** Every `*_ns` field becomes a BigInt (nanosecond counts exceed 2**53), whatever width
 * msgpack chose for it. */
function timestampsToBigInt(m) {
  for (const [key, value] of Object.entries(m)) {
    if (key.endsWith("_ns") && typeof value === "number" && Number.isInteger(value)) m[key] = BigInt(value);
  }
  return m;
}

/**
 * Check a decoded pose map; returns it (timestamps as BigInt) or throws SchemaError naming the
 * first bad field. Unknown extra fields are allowed and kept.
 * @param {object} m
 */
export function validatePose(m) {
  const version = checkVersion(m);
  for (const name of ["frame_id", ...TIMESTAMP_FIELDS]) checkNonNegativeInt(m, name);
  if (version >= 2) checkNonNegativeInt(m, "person_id");
  if (!TRACKING_STATES.includes(m.tracking)) {
    throw new SchemaError(`field 'tracking' must be one of ${TRACKING_STATES.join(", ")}, got ${String(m.tracking)}`,
      "tracking");
  }
  if (m.frame !== COORDINATE_FRAME) {
    throw new SchemaError(`field 'frame' must be '${COORDINATE_FRAME}', got ${shown(m.frame)}`, "frame");
  }
  checkNumbers(m, "joints_m", [NUM_JOINTS, 3]);
  checkNumbers(m, "confidence", [NUM_JOINTS], 0, 1);
  checkNumbers(m, "root_m", [3]);
  if (m.face_m !== undefined) checkNumbers(m, "face_m", [NUM_FACE_POINTS, 3]);
  const latency = m.latency_ms;
  if (latency !== undefined && latency !== null) {
    const ok = typeof latency === "object" && !Array.isArray(latency) &&
      Object.values(latency).every((x) => isFiniteNumber(x));
    if (!ok) throw new SchemaError("field 'latency_ms' must map stage names to finite milliseconds", "latency_ms");
  }
  if (m.source_stalled_s !== undefined && !isFiniteNumber(m.source_stalled_s, 0)) {
    throw new SchemaError(`field 'source_stalled_s' must be a finite number of seconds >= 0, got ${shown(m.source_stalled_s)}`,
      "source_stalled_s");
  }
  if (m.root_height_m !== undefined && !isFiniteNumber(m.root_height_m)) {
    throw new SchemaError(`field 'root_height_m' must be a finite number of metres, got ${shown(m.root_height_m)}`,
      "root_height_m");
  }
  checkAvatarFields(m);
  return timestampsToBigInt(m);
}

/** The avatar world's `foot_contact` and `frame_pose`, when there, checked as the Python reader
 * checks them (an engine drew an exploded avatar from a NaN in `frame_pose`). */
function checkAvatarFields(m) {
  const contact = m.foot_contact;
  if (contact !== undefined && !(Array.isArray(contact) && contact.length === 2 && contact.every((c) => typeof c === "boolean"))) {
    throw new SchemaError(`field 'foot_contact' must be [left, right] booleans, got ${shown(contact)}`, "foot_contact");
  }
  const pose = m.frame_pose;
  if (pose === undefined) return;
  if (pose === null || typeof pose !== "object" || Array.isArray(pose)) {
    throw new SchemaError(`field 'frame_pose' must be a map, got ${shown(pose)}`, "frame_pose");
  }
  for (const name of ["frame", "units"]) {
    if (typeof pose[name] !== "string") {
      throw new SchemaError(`field 'frame_pose.${name}' must be a string, got ${shown(pose[name])}`, "frame_pose");
    }
  }
  try {
    checkNumbers(pose, "joints", [NUM_JOINTS, 3]);
    checkNumbers(pose, "rotations", [NUM_JOINTS, 4]);
  } catch (e) {
    throw new SchemaError(e.message.replace(`field '${e.field}'`, `field 'frame_pose.${e.field}'`), "frame_pose");
  }
}

/**
 * Check a decoded meta map; returns it or throws SchemaError.
 * @param {object} m
 */
export function validateMeta(m) {
  checkVersion(m);
  for (const name of ["joint_names", "parents", "frame", "units"]) {
    if (m[name] === undefined || m[name] === null) throw new SchemaError(`meta message lacks field '${name}'`, name);
  }
  if (!Array.isArray(m.joint_names) || !m.joint_names.every((s) => typeof s === "string")) {
    throw new SchemaError("field 'joint_names' must be a list of strings", "joint_names");
  }
  if (m.joint_names.length !== NUM_JOINTS) {
    throw new SchemaError(`field 'joint_names' must name the ${NUM_JOINTS} joints, got ${m.joint_names.length}`, "joint_names");
  }
  if (!Array.isArray(m.parents) || m.parents.length !== m.joint_names.length || !m.parents.every(Number.isInteger)) {
    throw new SchemaError("field 'parents' must be one int per joint", "parents");
  }
  for (const name of ["units", "frame"]) {
    if (typeof m[name] !== "string") throw new SchemaError(`field '${name}' must be a string, got ${shown(m[name])}`, name);
  }
  if (m.assumptions !== undefined && (m.assumptions === null || typeof m.assumptions !== "object" || Array.isArray(m.assumptions))) {
    throw new SchemaError(`field 'assumptions' must be a map, got ${shown(m.assumptions)}`, "assumptions");
  }
  for (const name of ["max_people", "publish_ns", "publish_unix_ns"]) if (m[name] !== undefined) checkNonNegativeInt(m, name);
  for (const [name, low, open] of [["source_fps", 0, false], ["meta_interval_s", 0, true]]) {
    const value = m[name];
    if (value !== undefined && !(isFiniteNumber(value, low) && (!open || value > low))) {
      throw new SchemaError(`field '${name}' must be a finite number ${open ? ">" : ">="} ${low}, got ${shown(value)}`, name);
    }
  }
  return timestampsToBigInt(m);
}

/** Lists and maps inside one another a message may hold (posecast's own go 4 deep). */
export const MAX_NESTING = 32;

/** Whether `value`'s arrays and objects go at most `limit` deep (without recursing itself). */
function nestedWithin(value, limit) {
  const stack = [[value, 1]];
  while (stack.length) {
    const [container, depth] = stack.pop();
    if (depth > limit) return false;
    for (const item of Array.isArray(container) ? container : Object.values(container)) {
      if (item !== null && typeof item === "object" && !ArrayBuffer.isView(item)) stack.push([item, depth + 1]);
    }
  }
  return true;
}

/**
 * Decode one two-part message.
 * @param {Buffer|Uint8Array|string} topic
 * @param {Buffer|Uint8Array} payload
 * @returns {{topic: string, message: object, newerSchema: boolean}}
 */
export function decodeMessage(topic, payload) {
  const name = typeof topic === "string" ? topic : Buffer.from(topic).toString("utf8");
  let m;
  try {
    m = decode(payload, { useBigInt64: true });
  } catch (err) {
    throw new SchemaError(`payload is not msgpack (${err.message}): expected a posecast message`);
  }
  if (m === null || typeof m !== "object" || Array.isArray(m)) {
    throw new SchemaError("payload is not a msgpack map: expected a posecast message");
  }
  // (security QA: 5,000 levels ended posecast-listen with "Maximum call stack size exceeded")
  if (!nestedWithin(m, MAX_NESTING)) {
    throw new SchemaError(`payload nests lists and maps more than ${MAX_NESTING} deep: not a posecast message`);
  }
  // msgpack ints below 2**32 arrive as Number even with useBigInt64; the version must be one (a
  // version beyond 2**53 is refused, not rounded)
  if (typeof m.schema_version === "bigint" && m.schema_version <= BigInt(Number.MAX_SAFE_INTEGER)) {
    m.schema_version = Number(m.schema_version);
  }
  if (name === TOPIC_POSE) validatePose(m);
  else if (name === TOPIC_META) validateMeta(m);
  else throw new SchemaError(`unknown topic '${name}': expected '${TOPIC_POSE}' or '${TOPIC_META}'`);
  const newest = KNOWN_SCHEMA_VERSIONS[KNOWN_SCHEMA_VERSIONS.length - 1];
  return { topic: name, message: m, newerSchema: m.schema_version > newest };
}

/** JSON text of a decoded message; BigInt written as plain integer digits (exact). */
export function toJSON(value) {
  const marker = "@@posecast-bigint@@";
  const text = JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? marker + v.toString() : v));
  // DEL and the C1 controls written as escapes too (JSON.stringify leaves them raw, and a
  // publisher's U+009B is a terminal's CSI; Python's json escapes the C1 ones: review)
  return text.replace(new RegExp(`"${marker}(-?\\d+)"`, "g"), "$1")
    .replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
