// posecast viewer page: every tracked person's 3D skeleton from the WebSocket in a three.js scene
// with the floor, the camera and orbit controls; the corner shows tracking state, rates, latency.
// Scene axes are three.js's: x right, y up, z towards the viewer, metres. With a floor in the meta
// message (its camera_to_world) the scene is that world (y up, origin on the floor); without one,
// a level camera is assumed and the floor is put under the lowest foot of the last seconds.
import {
  AmbientLight, BufferGeometry, Color, CylinderGeometry, DirectionalLight, Float32BufferAttribute,
  GridHelper, Group, LineBasicMaterial, LineSegments, Mesh, MeshStandardMaterial, PerspectiveCamera,
  Quaternion, Scene, SphereGeometry, Vector3, WebGLRenderer, OrbitControls,
} from "./vendor/three-bundle.min.js";

const CAMERA_FRAME = "camera_xright_ydown_zforward";
const COLOURS = { left: 0x4589ff, right: 0xff832b, centre: 0xf4f4f4 };
const FLOOR_WINDOW_MS = 5000;
const FORGET_MS = 2000; // a person not heard of for this long is removed
const ANKLE_ABOVE_SOLE_M = 0.08;

const canvas = document.getElementById("scene");
const renderer = new WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
renderer.setPixelRatio(window.devicePixelRatio);
const scene = new Scene();
scene.background = new Color(0x1d2027);
scene.add(new AmbientLight(0xffffff, 1.2));
const sun = new DirectionalLight(0xffffff, 2.0);
sun.position.set(2, 5, 3);
scene.add(sun);

const view = new PerspectiveCamera(50, 1, 0.05, 100);
view.position.set(2.6, 1.0, 0.8);
const controls = new OrbitControls(view, canvas);
controls.target.set(0, -0.4, -3);
controls.update();

const FLOOR_SIZE_M = 12, FLOOR_CELLS = 24;
const floor = new GridHelper(FLOOR_SIZE_M, FLOOR_CELLS, 0x8d8d8d, 0x4d5358);
floor.position.set(0, -1.5, -3);
scene.add(floor);

// --- camera → scene ----------------------------------------------------------------------------
// `world`: the published camera_to_world (rows of a 4x4), or null for a level camera.
let world = null;
function toScene([x, y, z]) {
  if (!world) return [x, -y, -z];
  const m = world;
  return [0, 1, 2].map((r) => m[r][0] * x + m[r][1] * y + m[r][2] * z + m[r][3]);
}
function publishedWorld(meta) {
  const candidates = [meta.floor, meta.assumptions?.floor, meta.assumptions];
  for (const f of candidates) {
    if (!f || ["assumed", "estimating"].includes(f.state)) continue;
    const m = f.camera_to_world;
    if (Array.isArray(m) && m.length === 4 && m.every((row) => Array.isArray(row) && row.length === 4)) return m;
  }
  return null;
}

// The posecast camera: a small frustum at its optical centre, looking along its optical axis.
const cameraModel = new Group();
cameraModel.matrixAutoUpdate = false;
scene.add(cameraModel);
function buildCameraModel(hfovDeg = 60, aspect = 4 / 3) {
  cameraModel.clear();
  const depth = 0.25, halfW = depth * Math.tan((hfovDeg * Math.PI) / 360), halfH = halfW / aspect;
  const c = [[-halfW, halfH], [halfW, halfH], [halfW, -halfH], [-halfW, -halfH]].map(([x, y]) => [x, y, -depth]);
  const points = [];
  for (let i = 0; i < 4; i++) points.push(0, 0, 0, ...c[i], ...c[i], ...c[(i + 1) % 4]);
  const geometry = new BufferGeometry();
  geometry.setAttribute("position", new Float32BufferAttribute(points, 3));
  cameraModel.add(new LineSegments(geometry, new LineBasicMaterial({ color: 0x82cfff })));
}
function placeCameraModel() {
  // the model looks along its -z with y up: its axes are the camera's x, -y, -z in the scene
  const [o, ex, ey, ez] = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]].map(toScene);
  const axis = (p) => p.map((v, i) => v - o[i]);
  const [x, y, z] = [axis(ex), axis(ey), axis(ez)];
  cameraModel.matrix.set(x[0], -y[0], -z[0], o[0], x[1], -y[1], -z[1], o[1], x[2], -y[2], -z[2], o[2], 0, 0, 0, 1);
  cameraModel.matrixWorldNeedsUpdate = true;
}
buildCameraModel();
placeCameraModel();

// --- people: a sphere per joint, a cylinder per bone, one skeleton per person_id ----------------
let jointNames = [], parents = [];
const people = new Map(); // person_id → {group, joints, bones, seenMs}
const sphere = new SphereGeometry(0.035, 16, 12), rod = new CylinderGeometry(0.018, 0.018, 1, 10);
const materials = Object.fromEntries(Object.entries(COLOURS).map(([k, c]) => [k, new MeshStandardMaterial({ color: c })]));
function side(name) {
  return name.startsWith("l_") ? "left" : name.startsWith("r_") ? "right" : "centre";
}
function buildPerson(id) {
  const group = new Group();
  const mesh = (geometry, name) => {
    const m = new Mesh(geometry, materials[side(name)]);
    group.add(m);
    return m;
  };
  const joints = jointNames.map((name) => mesh(sphere, name));
  const bones = parents.map((p, i) => (p < 0 ? null : mesh(rod, jointNames[i])));
  const nose = mesh(rod, "nose"); // head → nose: where the face points (face_m), when it is known
  nose.visible = false;
  scene.add(group);
  // the id above the head: every skeleton has the same side colours (QA: with several people, who
  // was who could not be told)
  const label = document.createElement("div");
  label.className = "label";
  label.textContent = `person ${id}`;
  document.body.append(label);
  return { group, joints, bones, nose, label, seenMs: 0 };
}
function forget(id) {
  const person = people.get(id);
  scene.remove(person.group);
  person.label.remove();
  people.delete(id);
}
function forgetEveryone() {
  for (const id of [...people.keys()]) forget(id);
}

const up = new Vector3(0, 1, 0), a = new Vector3(), b = new Vector3(), dir = new Vector3();
function placePerson(person, points, face) {
  points.forEach((p, i) => person.joints[i]?.position.set(...p));
  person.bones.forEach((mesh, i) => mesh && placeRod(mesh, points[parents[i]], points[i]));
  person.nose.visible = Boolean(face);
  // face_m: nose, left eye, right eye, left ear, right ear; the ears' midpoint is the head joint
  if (face) placeRod(person.nose, face[3].map((v, i) => (v + face[4][i]) / 2), face[0]);
}
function placeRod(mesh, from, to) {
  a.set(...from);
  b.set(...to);
  dir.subVectors(b, a);
  const length = dir.length();
  mesh.visible = length > 1e-6;
  if (!mesh.visible) return;
  mesh.position.addVectors(a, b).multiplyScalar(0.5);
  mesh.scale.set(1, length, 1);
  mesh.quaternion.copy(new Quaternion().setFromUnitVectors(up, dir.normalize()));
}

// --- state shown in the corner ---------------------------------------------------------------
const hud = (id) => document.getElementById(id);
const state = {
  messages: 0, poses: 0, meta: null, lastPose: null, stream: "", framePublishesNs: [], frameCapturesNs: [],
  lastFrameId: null, feet: [], warnedFrame: null, centredOn: 0, viewMoved: false, people, lastPoseMs: null, quiet: false,
  connected: false,
};
// No pose for this long: the stream is said to be quiet (posecast listen says so after 5 s; a
// page that kept "tracking" and the last frame rate showed a stopped run as a live one)
const QUIET_MS = 2000;
window.posecast = state; // read by tests and handy in the console
state.floor = floor;

function setState(text, cls) {
  const el = hud("state");
  el.textContent = text;
  el.className = `state ${cls}`;
}

function rate(values, scale) {
  if (values.length < 2) return null;
  return ((values.length - 1) * scale) / (values[values.length - 1] - values[0]);
}

// "to this page" compares wall clocks, the page's and the publisher's: a value below this, or above
// the next one, is two clocks that disagree (another machine's, a step) and is shown as unknown
const TO_PAGE_MIN_MS = -50;
const TO_PAGE_MAX_MS = 10 * 60 * 1000;

function toPageText(toPageMs) {
  if (toPageMs >= TO_PAGE_MIN_MS && toPageMs <= TO_PAGE_MAX_MS) return `${toPageMs.toFixed(1)} ms`;
  return "unknown (clocks disagree)";
}

function onMeta(meta) {
  state.meta = meta;
  if (meta.joint_names.join() !== jointNames.join() || meta.parents.join() !== parents.join()) {
    jointNames = meta.joint_names;
    parents = meta.parents;
    forgetEveryone();
  }
  const newWorld = publishedWorld(meta);
  if (JSON.stringify(newWorld) !== JSON.stringify(world)) {
    world = newWorld;
    state.feet = [];
    state.centredOn = 0;
    if (world) floor.position.set(0, 0, 0);
  }
  const s = meta.assumptions || {};
  // The first meta comes before the first image, without intrinsics: the camera is drawn at 60°
  // then, but the page does not state a field of view nobody measured or assumed yet.
  const knownHfov = s.hfov_deg ?? (s.fx && s.image_width ? (360 / Math.PI) * Math.atan(s.image_width / 2 / s.fx) : null);
  buildCameraModel(knownHfov ?? 60, s.image_width && s.image_height ? s.image_width / s.image_height : 4 / 3);
  placeCameraModel();
  const parts = [];
  if (s.height_m !== undefined) parts.push(`height ${Number(s.height_m).toFixed(2)} m${s.height_assumed ? " (assumed)" : ""}`);
  parts.push(knownHfov === null ? "hfov not known yet"
    : `hfov ${Number(knownHfov).toFixed(0)}°${s.intrinsics_assumed ? " (assumed)" : ""}`);
  parts.push(world ? "floor: published" : "floor: under the feet, level camera assumed");
  hud("assumptions").textContent = parts.join(" · ");
}

function onPose(m) {
  state.poses += 1;
  state.lastPose = m;
  // the wall clock for "to this page", the monotonic one for intervals (quiet, forget, the floor's
  // window), which a step does not move; `performance.timeOrigin + performance.now()` as the wall
  // clock follows no step nor a suspend (QA: "to this page -10799978.9 ms" after a 3 h NTP step)
  const arrivalUnixMs = Date.now();
  const arrival = performance.now();
  state.lastPoseMs = arrival;
  state.quiet = false;
  if (m.frame_id !== state.lastFrameId) { // rates count frames, not the messages of each person
    state.lastFrameId = m.frame_id;
    // on the publisher's clock, not this page's: a page busy while it starts takes the frames
    // that queued meanwhile in one burst (QA: 74.8 frames/s for a 30 fps stream)
    state.framePublishesNs.push(m.publish_ns);
    state.frameCapturesNs.push(m.capture_ns);
    if (state.framePublishesNs.length > 30) state.framePublishesNs.shift(), state.frameCapturesNs.shift();
  }
  const fps = rate(state.framePublishesNs, 1e9), captureFps = rate(state.frameCapturesNs, 1e9);
  hud("rates").textContent = fps ? `${fps.toFixed(1)} frames/s (capture ${captureFps.toFixed(1)} fps)` : "";
  const pipelineMs = (m.publish_ns - m.capture_ns) / 1e6;
  const toPageMs = arrivalUnixMs - m.publish_unix_ns / 1e6 + pipelineMs;
  hud("latency").textContent = `latency: pipeline ${pipelineMs.toFixed(1)} ms · to this page ${toPageText(toPageMs)}`;

  if (m.frame !== CAMERA_FRAME && state.warnedFrame !== m.frame) {
    console.warn(`unknown coordinate frame ${m.frame}: drawn as if it were ${CAMERA_FRAME}`);
    state.warnedFrame = m.frame;
  }
  if (!jointNames.length) { // no meta yet: the joint order is fixed by the schema version
    jointNames = m.joints_m.map((_, i) => `j${i}`);
    parents = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15];
  }
  const id = m.person_id ?? 0;
  if (!people.has(id)) people.set(id, buildPerson(id));
  const person = people.get(id);
  person.seenMs = arrival;
  person.tracking = m.tracking;
  person.group.visible = m.tracking !== "lost";
  for (const [other, p] of people) {
    if (arrival - p.seenMs > FORGET_MS) forget(other);
  }
  const shownIds = [...people].filter(([, p]) => p.group.visible).map(([pid]) => pid).sort((i, j) => i - j);
  sayState(shownIds.map((pid) => people.get(pid).tracking));
  const who = shownIds.length > 1 ? `people ${shownIds.join(", ")}` : `person ${shownIds[0] ?? id}`;
  hud("frame").textContent = `frame ${m.frame_id} · ${who} · schema ${m.schema_version}`;
  if (!person.group.visible) return;
  const points = m.joints_m.map(toScene);
  placePerson(person, points, m.face_m ? m.face_m.map(toScene) : null);
  updateFloor(points, arrival, id === shownIds[0]);
  // the view takes in everyone drawn, once more each time someone new is, until it is moved by
  // hand (QA: centred once, on the first person, it left the second half out of the picture)
  if (!state.viewMoved && shownIds.length > state.centredOn) recentre();
}

// The state of the people drawn, not of the message's person (QA: with one of two lost, every
// frame's lost message turned the corner to "lost" while the other was drawn tracking), and with
// several, how many are in which state (QA: "tracking 2 people" in the warming colour)
function sayState(states) {
  const shownState = states.includes("tracking") ? "tracking" : (states[0] ?? "lost");
  if (states.length < 2) return setState(shownState, shownState);
  const tracking = states.filter((s) => s === "tracking").length;
  setState(tracking === states.length || tracking === 0 ? `${shownState} ${states.length} people`
    : `tracking ${tracking} of ${states.length} people, ${states.length - tracking} warming`, shownState);
}

// The grid under one person (`followed`: the lowest id shown; QA: with two people it jumped from one
// to the other with every message), moved by whole cells so that its lines stay where they are.
// Without a published floor its height is the lowest foot seen over the last few seconds.
function updateFloor(points, arrival, followed) {
  const root = points[0];
  if (followed) {
    const cellM = FLOOR_SIZE_M / FLOOR_CELLS;
    floor.position.x = Math.round(root[0] / cellM) * cellM;
    floor.position.z = Math.round(root[2] / cellM) * cellM;
  }
  if (world) return;
  const feet = ["l_ankle", "r_ankle"].map((n) => jointNames.indexOf(n)).filter((i) => i >= 0);
  if (!feet.length) return;
  state.feet.push([arrival, Math.min(...feet.map((i) => points[i][1]))]);
  while (state.feet.length && arrival - state.feet[0][0] > FLOOR_WINDOW_MS) state.feet.shift();
  floor.position.y = Math.min(...state.feet.map(([, y]) => y)) - ANKLE_ABOVE_SOLE_M;
}

// The view: from the side, high, so that the people, the floor and the camera are all in it.
function recentre() {
  const roots = [...people.values()].filter((p) => p.group.visible).map((p) => p.joints[0].position);
  const root = new Vector3(0, 0, -3);
  if (roots.length) root.set(0, 0, 0), roots.forEach((r) => root.addScaledVector(r, 1 / roots.length));
  const spread = Math.max(0, ...roots.map((r) => r.distanceTo(root)));
  const camera = new Vector3(...toScene([0, 0, 0]));
  controls.target.lerpVectors(camera, root, 0.7);
  const distance = Math.max(2.5, root.distanceTo(camera), 2.5 * spread);
  const t = controls.target;
  const across = new Vector3().subVectors(root, camera).cross(up).normalize(); // to the side of the line of sight
  view.position.set(t.x + 0.9 * distance * across.x, t.y + 0.45 * distance, t.z + 0.9 * distance * across.z);
  view.position.addScaledVector(new Vector3().subVectors(camera, root).normalize(), 0.5 * distance);
  controls.update();
  state.centredOn = roots.length;
}
controls.addEventListener("start", () => { state.viewMoved = true; }); // a drag, a scroll: the user's view
window.addEventListener("keydown", (e) => {
  if (e.key.toLowerCase() === "r" && [...people.values()].some((p) => p.group.visible)) recentre();
});

// Each label above its person's head, in CSS pixels (hidden with the person, or behind the view)
const head = new Vector3();
function placeLabels() {
  const headIndex = Math.max(0, jointNames.indexOf("head"));
  for (const person of people.values()) {
    const joint = person.joints[headIndex];
    const p = joint ? head.copy(joint.position).project(view) : null;
    const shown = Boolean(p) && person.group.visible && p.z < 1;
    person.label.style.display = shown ? "block" : "none";
    if (!shown) continue;
    person.label.style.left = `${((p.x + 1) / 2) * canvas.clientWidth}px`;
    person.label.style.top = `${((1 - p.y) / 2) * canvas.clientHeight}px`;
  }
}

/** Where each joint of a person (default: the first shown) is drawn, in device pixels (for tests). */
const shownPerson = (id) => (id === undefined ? [...people.values()].find((p) => p.group.visible) : people.get(id));
function toPixels(position) { // device pixels
  const p = position.clone().project(view);
  return [((p.x + 1) / 2) * renderer.domElement.width, ((1 - p.y) / 2) * renderer.domElement.height];
}
state.projectJoints = (id) => shownPerson(id)?.joints.map((mesh) => toPixels(mesh.position)) ?? [];
/** Where the head → nose rod's middle is drawn, or null while it is hidden (for tests). */
state.projectNose = (id) => {
  const person = shownPerson(id);
  return person && person.nose.visible ? toPixels(person.nose.position) : null;
};

// --- the WebSocket, reconnected every second when the server goes away ------------------------
function connect() {
  // wss behind an https proxy: a page served over https may not open a ws:// socket
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.onopen = () => { state.connected = true; };
  socket.onmessage = (event) => {
    const m = JSON.parse(event.data);
    state.messages += 1;
    if (m.topic === "hello") state.stream = m.stream, setState(`waiting for poses from ${m.stream}`, "waiting");
    else if (m.topic === "meta") onMeta(m);
    else if (m.topic === "pose") onPose(m);
  };
  socket.onclose = () => {
    state.connected = false; // the viewer went away, not (as far as the page knows) the stream
    setState("disconnected from posecast view: retrying", "disconnected");
    hud("rates").textContent = ""; // nothing measured while disconnected
    hud("latency").textContent = "";
    setTimeout(connect, 1000);
  };
}
connect();

setInterval(() => { // a stream that stopped: say so, and count the rate again from the next pose
  if (state.lastPoseMs === null || !state.connected) return;
  const quietMs = performance.now() - state.lastPoseMs;
  if (quietMs < QUIET_MS) return;
  state.quiet = true;
  setState(`no poses for ${Math.floor(quietMs / 1000)} s: is the stream ${state.stream} still running?`, "waiting");
  hud("rates").textContent = "0 frames/s";
  hud("latency").textContent = ""; // the last frame's latency is no live value now
  state.framePublishesNs = [];
  state.frameCapturesNs = [];
}, 500);

function resize() {
  const w = canvas.clientWidth, h = canvas.clientHeight, ratio = window.devicePixelRatio;
  if (renderer.domElement.width !== Math.round(w * ratio) || renderer.domElement.height !== Math.round(h * ratio)) {
    renderer.setSize(w, h, false);
    view.aspect = w / h;
    view.updateProjectionMatrix();
  }
}
renderer.setAnimationLoop(() => {
  resize();
  controls.update();
  renderer.render(scene, view);
  placeLabels();
  state.frames = (state.frames || 0) + 1;
});
