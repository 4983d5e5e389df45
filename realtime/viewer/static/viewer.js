// posecast viewer page: the 3D skeleton from the WebSocket in a three.js scene with the floor,
// the camera and orbit controls; the corner shows tracking state, rates and latency.
// Scene axes are three.js's: x right, y up, z towards the viewer, metres.
import {
  AmbientLight, BufferGeometry, Color, CylinderGeometry, DirectionalLight, Float32BufferAttribute,
  GridHelper, Group, LineBasicMaterial, LineSegments, Mesh, MeshStandardMaterial, PerspectiveCamera,
  Quaternion, Scene, SphereGeometry, Vector3, WebGLRenderer, OrbitControls,
} from "./vendor/three-bundle.min.js";

// Published frame → scene axes. posecast's camera frame is OpenCV's (x right, y down, z forward).
const FRAME_TO_SCENE = {
  camera_xright_ydown_zforward: ([x, y, z]) => [x, -y, -z],
};
const COLOURS = { left: 0x4589ff, right: 0xff832b, centre: 0xf4f4f4 };
const FLOOR_WINDOW_MS = 5000;

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

const floor = new GridHelper(12, 24, 0x8d8d8d, 0x4d5358);
floor.position.set(0, -1.5, -3);
scene.add(floor);

// The posecast camera: a small frustum at the origin looking along -z (the scene's forward).
const cameraModel = new Group();
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
buildCameraModel();

// The skeleton: a sphere per joint, a cylinder per bone, built from the meta message.
const skeleton = new Group();
scene.add(skeleton);
let joints = [], bones = [], parents = [], jointNames = [];
function side(name) {
  return name.startsWith("l_") ? "left" : name.startsWith("r_") ? "right" : "centre";
}
function buildSkeleton(names, parentList) {
  skeleton.clear();
  jointNames = names;
  parents = parentList;
  const sphere = new SphereGeometry(0.035, 16, 12), rod = new CylinderGeometry(0.018, 0.018, 1, 10);
  joints = names.map((name) => {
    const mesh = new Mesh(sphere, new MeshStandardMaterial({ color: COLOURS[side(name)] }));
    skeleton.add(mesh);
    return mesh;
  });
  bones = parents.map((p, i) => {
    if (p < 0) return null;
    const mesh = new Mesh(rod, new MeshStandardMaterial({ color: COLOURS[side(names[i])] }));
    skeleton.add(mesh);
    return mesh;
  });
}

const up = new Vector3(0, 1, 0), a = new Vector3(), b = new Vector3(), dir = new Vector3();
function placeSkeleton(points) {
  points.forEach((p, i) => joints[i]?.position.set(...p));
  bones.forEach((mesh, i) => {
    if (!mesh) return;
    a.set(...points[parents[i]]);
    b.set(...points[i]);
    dir.subVectors(b, a);
    const length = dir.length();
    mesh.visible = length > 1e-6;
    if (!mesh.visible) return;
    mesh.position.addVectors(a, b).multiplyScalar(0.5);
    mesh.scale.set(1, length, 1);
    mesh.quaternion.copy(new Quaternion().setFromUnitVectors(up, dir.normalize()));
  });
}

// --- state shown in the corner ---------------------------------------------------------------
const hud = (id) => document.getElementById(id);
const state = {
  messages: 0, poses: 0, meta: null, lastPose: null, stream: "", arrivalsMs: [], capturesNs: [],
  feet: [], warnedFrame: null,
};
window.posecast = state; // read by tests and handy in the console

function setState(text, cls) {
  const el = hud("state");
  el.textContent = text;
  el.className = `state ${cls}`;
}

function rate(values, scale) {
  if (values.length < 2) return null;
  return ((values.length - 1) * scale) / (values[values.length - 1] - values[0]);
}

function nowUnixMs() {
  return performance.timeOrigin + performance.now();
}

function onMeta(meta) {
  state.meta = meta;
  if (meta.joint_names.join() !== jointNames.join()) buildSkeleton(meta.joint_names, meta.parents);
  const s = meta.assumptions || {};
  if (s.hfov_deg) buildCameraModel(s.hfov_deg);
  const parts = [];
  if (s.height_m !== undefined) parts.push(`height ${Number(s.height_m).toFixed(2)} m${s.height_assumed ? " (assumed)" : ""}`);
  if (s.hfov_deg !== undefined) parts.push(`hfov ${Number(s.hfov_deg).toFixed(0)}°${s.intrinsics_assumed ? " (assumed)" : ""}`);
  hud("assumptions").textContent = parts.join(" · ");
}

function onPose(m) {
  state.poses += 1;
  state.lastPose = m;
  const arrival = nowUnixMs();
  state.arrivalsMs.push(arrival);
  state.capturesNs.push(m.capture_ns);
  if (state.arrivalsMs.length > 30) state.arrivalsMs.shift(), state.capturesNs.shift();
  const fps = rate(state.arrivalsMs, 1e3), captureFps = rate(state.capturesNs, 1e9);
  hud("rates").textContent = fps ? `${fps.toFixed(1)} poses/s (capture ${captureFps.toFixed(1)} fps)` : "";
  const pipelineMs = (m.publish_ns - m.capture_ns) / 1e6;
  const toPageMs = arrival - m.publish_unix_ns / 1e6 + pipelineMs; // same machine: same wall clock
  hud("latency").textContent = `latency: pipeline ${pipelineMs.toFixed(1)} ms · to this page ${toPageMs.toFixed(1)} ms`;
  const person = m.person_id === undefined ? "" : ` · person ${m.person_id}`;
  hud("frame").textContent = `frame ${m.frame_id}${person} · schema ${m.schema_version}`;
  setState(m.tracking, m.tracking);

  const toScene = FRAME_TO_SCENE[m.frame];
  if (!toScene) {
    if (state.warnedFrame !== m.frame) console.warn(`unknown coordinate frame ${m.frame}: drawn as published`);
    state.warnedFrame = m.frame;
  }
  if (!joints.length) buildSkeleton(m.joints_m.map((_, i) => `j${i}`), state.meta?.parents ?? []);
  skeleton.visible = m.tracking !== "lost";
  if (!skeleton.visible) return;
  const points = m.joints_m.map(toScene ?? ((p) => p));
  placeSkeleton(points);
  updateFloor(points, arrival);
  if (!state.centred) recentre();
}

// The floor: the lowest foot seen over the last few seconds (a level camera is assumed).
function updateFloor(points, arrival) {
  const feet = ["l_ankle", "r_ankle"].map((n) => jointNames.indexOf(n)).filter((i) => i >= 0);
  if (!feet.length) return;
  state.feet.push([arrival, Math.min(...feet.map((i) => points[i][1]))]);
  while (state.feet.length && arrival - state.feet[0][0] > FLOOR_WINDOW_MS) state.feet.shift();
  floor.position.y = Math.min(...state.feet.map(([, y]) => y)) - 0.08; // ankle joint ≈ 8 cm above the sole
  const root = points[0];
  floor.position.x = root[0];
  floor.position.z = root[2];
}

// The view: from the side, high, so that the person, the floor and the camera are all in it.
function recentre() {
  const pose = state.lastPose;
  if (!pose || pose.tracking === "lost" || !joints.length) return;
  const root = joints[0].position;
  controls.target.set(root.x * 0.6, root.y * 0.6, root.z * 0.6);
  const distance = Math.max(2.5, root.length());
  const t = controls.target;
  view.position.set(t.x + 0.9 * distance, t.y + 0.45 * distance, t.z + 0.5 * distance);
  controls.update();
  state.centred = true;
}
window.addEventListener("keydown", (e) => e.key.toLowerCase() === "r" && recentre());

/** Where each joint is drawn, in device pixels of the canvas (for tests). */
state.projectJoints = () =>
  joints.map((mesh) => {
    const p = mesh.position.clone().project(view);
    const w = renderer.domElement.width, h = renderer.domElement.height;
    return [((p.x + 1) / 2) * w, ((1 - p.y) / 2) * h];
  });

// --- the WebSocket, reconnected every second when the server goes away ------------------------
function connect() {
  const socket = new WebSocket(`ws://${location.host}/ws`);
  socket.onmessage = (event) => {
    const m = JSON.parse(event.data);
    state.messages += 1;
    if (m.topic === "hello") state.stream = m.stream, setState(`waiting for poses from ${m.stream}`, "waiting");
    else if (m.topic === "meta") onMeta(m);
    else if (m.topic === "pose") onPose(m);
  };
  socket.onclose = () => {
    setState("disconnected from posecast view: retrying", "disconnected");
    setTimeout(connect, 1000);
  };
}
connect();

function resize() {
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (renderer.domElement.width !== Math.round(w * window.devicePixelRatio)) {
    renderer.setSize(w, h, false);
    view.aspect = w / h;
    view.updateProjectionMatrix();
  }
}
renderer.setAnimationLoop(() => {
  resize();
  controls.update();
  renderer.render(scene, view);
  state.frames = (state.frames || 0) + 1;
});
