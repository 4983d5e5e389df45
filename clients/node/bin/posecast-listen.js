#!/usr/bin/env node
// posecast-listen: print a posecast stream as JSON lines (or short text lines).
//
//   posecast-listen [--address tcp://127.0.0.1:5555] [--count N] [--timeout S] [--text] [--poses-only]
//
// --address: tcp://HOST:PORT or ipc://PATH to connect to; bind:tcp://HOST:PORT or bind:ipc://PATH
// to bind (the forms `posecast listen` takes). Exit codes, as `posecast listen`'s: 0 done, 2 a
// bad argument or --timeout passed (one line on stderr: the problem and the fix). Messages that
// break the schema are reported on stderr and skipped.

import { parseArgs } from "node:util";

import {
  AddressError,
  DEFAULT_ADDRESS,
  MAX_TIMEOUT_MS,
  PosecastSubscriber,
  SchemaError,
  TimeoutError,
  parseAddress,
  toJSON,
} from "../index.js";

const USAGE = "usage: posecast-listen [--address ADDR] [--count N] [--timeout S] [--text] [--poses-only]";
const HELP = `${USAGE}

Print a posecast stream as JSON lines (one per message).

options:
  --address ADDR  tcp://HOST:PORT or ipc://PATH to connect to; bind:tcp://HOST:PORT or
                  bind:ipc://PATH to bind (default ${DEFAULT_ADDRESS}); --stream ADDR too
  --count N       exit after N pose messages
  --timeout S     exit 2 after S seconds without a message (at most ${Math.floor(MAX_TIMEOUT_MS / 1000)})
  --text          short text lines instead of JSON (a meta only when it changes)
  --poses-only    leave out the meta messages
  -h, --help      this text

exit codes: 0 done, 2 a bad argument or --timeout passed (one line on stderr: the problem and the fix)
`;

function usage(message) {
  say(`posecast-listen: error: ${message}`);
  process.exit(2);
}

// "--timeout -1": node's parser takes the "-1" for an option ("ambiguous"); read it as the value,
// so that the option's own range check answers
const args = process.argv.slice(2);
for (let i = args.length - 2; i >= 0; i--) {
  if ((args[i] === "--count" || args[i] === "--timeout") && /^-[0-9.]/.test(args[i + 1])) {
    args.splice(i, 2, `${args[i]}=${args[i + 1]}`);
  }
}

let values;
try {
  ({ values } = parseArgs({
    args,
    options: {
      address: { type: "string" },
      stream: { type: "string" }, // the name `posecast view` gives it
      count: { type: "string" },
      timeout: { type: "string" },
      text: { type: "boolean", default: false },
      "poses-only": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (err) {
  // one line: some of node's messages span three
  usage(`${err.message.replace(/\s*\n\s*/g, " ").replace(/\.$/, "")}: see --help`);
}
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (values.address !== undefined && values.stream !== undefined) usage("--address and --stream name the same thing: give one");
values.address = values.address ?? values.stream ?? DEFAULT_ADDRESS;
try {
  parseAddress(values.address);
} catch (err) {
  if (!(err instanceof AddressError)) throw err;
  usage(`--address: ${err.message}`);
}
// plain decimal digits only: Number() would also take "0x10", "1e3", " 5" and "Infinity"
const count = values.count === undefined ? Infinity : /^[0-9]+$/.test(values.count) ? Number(values.count) : NaN;
if (!(count >= 1)) usage(`--count must be a whole number of poses, 1 or more (e.g. --count 100), got "${values.count}"`);
const MAX_TIMEOUT_S = Math.floor(MAX_TIMEOUT_MS / 1000);
const decimal = /^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;
const timeoutS = values.timeout === undefined ? -1 : decimal.test(values.timeout) ? Number(values.timeout) : NaN;
if (values.timeout !== undefined && !(timeoutS > 0 && timeoutS <= MAX_TIMEOUT_S)) {
  usage(`--timeout must be a number of seconds from more than 0 to ${MAX_TIMEOUT_S} (e.g. --timeout 5), got "${values.timeout}"`);
}
// at least a millisecond: ZeroMQ's timeout 0 would not wait at all
const timeoutMs = timeoutS > 0 ? Math.max(1, Math.round(timeoutS * 1000)) : -1;

// a reader that goes away (`posecast-listen | head`) ends the listening, not with a stack trace
process.stdout.on("error", (err) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(0);
});

function textLine(topic, m) {
  if (topic === "meta") {
    // the assumptions say which run this is (model, hfov, max people): as `posecast listen` prints them
    const assumptions = Object.entries(m.assumptions ?? {}).map(([k, v]) => `${k}=${shortText(v)}`).join(", ") || "none";
    return `meta: schema ${m.schema_version}, ${m.joint_names.length} joints in ${m.units}, frame ${m.frame}; assumptions: ${assumptions}`;
  }
  const latencyMs = Number(m.publish_ns - m.capture_ns) / 1e6;
  const root = m.root_m.map((x) => x.toFixed(2)).join(" ");
  const person = m.person_id === undefined ? "" : `  person ${m.person_id}`;
  return `frame ${m.frame_id}${person}  ${m.tracking}  latency ${latencyMs.toFixed(1)} ms  root (${root}) m`;
}

// a line on stderr, escaped: an error's message may quote what a publisher sent (review)
function say(text) {
  process.stderr.write(escaped(text) + "\n");
}

// one line a terminal shows and does not obey: line breaks as \n, \r, other control characters \xNN
function escaped(text) {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) =>
    c === "\n" ? "\\n" : c === "\r" ? "\\r" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

// a value of the meta's assumptions, numbers to 6 significant digits (float32 fields read 1.7, not 1.70000005)
function shortText(value) {
  if (typeof value === "number") return Number.isFinite(value) ? String(Number(value.toPrecision(6))) : "null";
  if (typeof value === "string" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  return toJSON(value);
}

let subscriber;
try {
  subscriber = new PosecastSubscriber(values.address, { timeoutMs });
} catch (err) {
  if (!(err instanceof AddressError)) throw err;
  usage(`--address: ${err.message}`);
}
let poses = 0;
let heardAny = false;
let lastFrameId;
let runIndex = 0;
let newRunSaidMs = -Infinity;
let lastMetaLine;
let warnedNewer = false;
try {
  await subscriber.ready;
  if (subscriber.boundAddress) {
    // the port bound, where bind:tcp://HOST:0 asked for any free one (the publisher must be told it)
    say(`posecast-listen: listening on ${subscriber.boundAddress}`);
  }
  while (poses < count) {
    let item;
    try {
      item = await subscriber.next();
    } catch (err) {
      if (err instanceof SchemaError) {
        say(`posecast-listen: skipping a message: ${err.message}`);
        continue;
      }
      throw err;
    }
    const { topic, message, newerSchema } = item;
    heardAny = true;
    if (newerSchema && !warnedNewer) {
      warnedNewer = true;
      say(`posecast-listen: schema ${message.schema_version} is newer than this client knows; reading the fields it knows`);
    }
    if (topic === "pose") {
      poses += 1;
      // said at most every 5 s (the frames of several publishers on one address interleave)
      const newRun = item.runIndex !== runIndex;
      runIndex = item.runIndex;
      // the monotonic clock: with Date.now() a wall clock stepped back 1 h kept it silent for 1 h (QA)
      if (newRun && performance.now() - newRunSaidMs >= 5000) {
        newRunSaidMs = performance.now();
        say(`posecast-listen: a new run started (frame_id ${message.frame_id} after ${lastFrameId}): its people are new`);
      }
      lastFrameId = message.frame_id;
    } else if (values["poses-only"]) continue;
    // text: the publisher's strings with their control characters written out (security QA: a
    // meta's ESC sequences set the terminal's title and cleared its screen); JSON escapes them
    const line = values.text ? escaped(textLine(topic, message)) : toJSON({ topic, ...message });
    // text: a meta when it changes (it is repeated every second); JSON: every message, as sent
    if (values.text && topic === "meta") {
      if (line === lastMetaLine) continue;
      lastMetaLine = line;
    }
    process.stdout.write(line + "\n");
  }
} catch (err) {
  if (err instanceof TimeoutError && heardAny) {
    // messages came from there: the address is right (QA: it asked whether posecast publishes there)
    const address = subscriber.boundAddress ?? values.address;
    say(`posecast-listen: error: nothing more from ${address} in ${timeoutS} s (after ${poses} poses): the publisher stopped`);
    process.exitCode = 2; // as posecast listen (it was 1 until 2026-12-07)
  } else if (err instanceof TimeoutError) {
    // in the seconds --timeout took (QA: the library's milliseconds said "in 1000 ms")
    const address = subscriber.boundAddress ?? values.address;
    say(`posecast-listen: error: no message from ${address} in ${timeoutS} s: is posecast publishing there?`);
    process.exitCode = 2;
  } else if (err instanceof AddressError) {
    // a bind that failed (address in use, not this machine's): known only once it was tried
    say(`posecast-listen: error: --address: ${err.message}`);
    process.exitCode = 2;
  } else {
    throw err;
  }
} finally {
  subscriber.close();
}
