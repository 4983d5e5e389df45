#!/usr/bin/env node
// posecast-listen: print a posecast stream as JSON lines (or short text lines).
//
//   posecast-listen [--address tcp://127.0.0.1:5555] [--count N] [--timeout S] [--text] [--poses-only]
//
// Exit codes: 0 done, 1 timeout, 2 bad arguments. Messages that break the schema are reported
// on stderr and skipped.

import { parseArgs } from "node:util";

import { DEFAULT_ADDRESS, PosecastSubscriber, SchemaError, TimeoutError, toJSON } from "../index.js";

function usage(message) {
  process.stderr.write(`posecast-listen: error: ${message}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      address: { type: "string", default: DEFAULT_ADDRESS },
      count: { type: "string" },
      timeout: { type: "string" },
      text: { type: "boolean", default: false },
      "poses-only": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (err) {
  usage(`${err.message}: see --help`);
}
if (values.help) {
  process.stdout.write("usage: posecast-listen [--address ADDR] [--count N] [--timeout S] [--text] [--poses-only]\n");
  process.exit(0);
}
const count = values.count === undefined ? Infinity : Number(values.count);
if (!(count > 0) || (values.count !== undefined && !Number.isInteger(count))) usage(`--count must be a positive integer, got ${values.count}`);
const timeoutS = values.timeout === undefined ? -1 : Number(values.timeout);
if (values.timeout !== undefined && !(timeoutS > 0)) usage(`--timeout must be a positive number of seconds, got ${values.timeout}`);

function textLine(topic, m) {
  if (topic === "meta") return `meta: schema ${m.schema_version}, ${m.joint_names.length} joints in ${m.units}, frame ${m.frame}`;
  const latencyMs = Number(m.publish_ns - m.capture_ns) / 1e6;
  const root = m.root_m.map((x) => x.toFixed(2)).join(" ");
  const person = m.person_id === undefined ? "" : `  person ${m.person_id}`;
  return `frame ${m.frame_id}${person}  ${m.tracking}  latency ${latencyMs.toFixed(1)} ms  root (${root}) m`;
}

const subscriber = new PosecastSubscriber(values.address, { timeoutMs: timeoutS > 0 ? Math.round(timeoutS * 1000) : -1 });
let poses = 0;
let warnedNewer = false;
try {
  while (poses < count) {
    let item;
    try {
      item = await subscriber.next();
    } catch (err) {
      if (err instanceof SchemaError) {
        process.stderr.write(`posecast-listen: skipping a message: ${err.message}\n`);
        continue;
      }
      throw err;
    }
    const { topic, message, newerSchema } = item;
    if (newerSchema && !warnedNewer) {
      warnedNewer = true;
      process.stderr.write(`posecast-listen: schema ${message.schema_version} is newer than this client knows; reading the fields it knows\n`);
    }
    if (topic === "pose") poses += 1;
    else if (values["poses-only"]) continue;
    const line = values.text ? textLine(topic, message) : toJSON({ topic, ...message });
    process.stdout.write(line + "\n");
  }
} catch (err) {
  if (err instanceof TimeoutError) {
    process.stderr.write(`posecast-listen: error: ${err.message} (after ${poses} poses)\n`);
    process.exitCode = 1;
  } else {
    throw err;
  }
} finally {
  subscriber.close();
}
