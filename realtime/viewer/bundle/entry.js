// The parts of three.js the viewer page uses, bundled (tree-shaken, minified) into
// ../static/vendor/three-bundle.min.js by `npm ci && npm run build`. The built file is committed,
// so installing posecast needs no npm and the page needs no network.
export {
  AmbientLight,
  BufferGeometry,
  Color,
  CylinderGeometry,
  DirectionalLight,
  Float32BufferAttribute,
  GridHelper,
  Group,
  LineBasicMaterial,
  LineSegments,
  Mesh,
  MeshStandardMaterial,
  PerspectiveCamera,
  Quaternion,
  Scene,
  SphereGeometry,
  Vector3,
  WebGLRenderer,
} from "three";
export { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
