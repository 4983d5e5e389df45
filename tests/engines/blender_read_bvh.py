"""Run inside Blender (``blender -b --factory-startup --python-exit-code 1 --python THIS -- BVH
OUT.json FORWARD UP``): import a BVH with Blender's own importer and write every pose bone's
head, in Blender's world coordinates, for every frame, as JSON."""

import json
import sys

import bpy
import io_anim_bvh.import_bvh as import_bvh

BUILTIN_OPEN = open


def _open_without_u(file, mode="r", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    # Debian's Blender 3.4 runs on Python 3.11, where its BVH importer's open(path, "rU") fails
    # ("invalid mode"); "U" has meant nothing since Python 3.0, so drop it.
    return BUILTIN_OPEN(file, mode.replace("U", ""), *args, **kwargs)


import_bvh.open = _open_without_u

path, out, forward, up = sys.argv[sys.argv.index("--") + 1 :][:4]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(
    filepath=path, axis_forward=forward, axis_up=up, rotate_mode="NATIVE", update_scene_fps=True,
    update_scene_duration=True, use_fps_scale=False, frame_start=1,
)  # fmt: skip
armature = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
scene = bpy.context.scene
start, end = (int(round(v)) for v in armature.animation_data.action.frame_range)
frames = []
for f in range(start, end + 1):
    scene.frame_set(f)
    frames.append({bone.name: list(armature.matrix_world @ bone.head) for bone in armature.pose.bones})
with BUILTIN_OPEN(out, "w") as fh:
    json.dump({"fps": scene.render.fps / scene.render.fps_base, "blender": bpy.app.version_string,
               "frames": frames}, fh)  # fmt: skip
