"""Render a BVH exported by ``posecast export`` in Blender, headless, to a PNG (the README's picture).

Run inside Blender::

    blender -b --factory-startup --python-exit-code 1 --python tools/blender_render_bvh.py -- \
        take.bvh out.png [--frames 40,75,100] [--strip 1.1]

(``--python-exit-code 1``: without it Blender exits 0 when this script fails, a bad BVH included.)

It imports the BVH with Blender's own importer (default axes: Forward -Z, Up Y, the ``world``
frame of ``posecast export``), then, because an armature is not rendered, puts a sphere on every
bone head and a rod along every bone at each of ``--frames`` (default: five frames spread over
the take; later ones drawn stronger; ``--strip M`` shifts each snapshot M metres further along x,
for a subject who stays in place), adds a floor, a camera and a light, and renders with Cycles on
the CPU (no GPU or display needed).
"""

import argparse
import math
import os
import sys

import bpy
import io_anim_bvh.import_bvh as import_bvh
from mathutils import Vector

BUILTIN_OPEN = open


def _open_without_u(file, mode="r", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    # Debian's Blender 3.4 runs on Python 3.11, where its BVH importer's open(path, "rU") fails.
    return BUILTIN_OPEN(file, mode.replace("U", ""), *args, **kwargs)


import_bvh.open = _open_without_u


def material(name, rgba):  # noqa: ANN001, ANN201
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    principled = mat.node_tree.nodes["Principled BSDF"]
    principled.inputs["Base Color"].default_value = rgba
    principled.inputs["Roughness"].default_value = 0.5
    return mat


def rod(a, b, radius, mat):  # noqa: ANN001, ANN201
    direction = b - a
    if direction.length < 1e-4:
        return
    bpy.ops.mesh.primitive_cylinder_add(radius=radius, depth=direction.length, location=(a + b) / 2, vertices=12)
    obj = bpy.context.active_object
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = direction.to_track_quat("Z", "Y")
    obj.data.materials.append(mat)


def ball(p, radius, mat):  # noqa: ANN001, ANN201
    bpy.ops.mesh.primitive_uv_sphere_add(radius=radius, location=p, segments=16, ring_count=8)
    bpy.context.active_object.data.materials.append(mat)


def side(name):  # noqa: ANN001, ANN201
    return "left" if name.startswith("Left") else "right" if name.startswith("Right") else "centre"


parser = argparse.ArgumentParser(prog="blender_render_bvh.py")
parser.add_argument("bvh")
parser.add_argument("png")
parser.add_argument("--frames", default=None, help="comma-separated Blender frames (from 1)")
parser.add_argument("--strip", type=float, default=0.0, help="metres between snapshots along x")
args = parser.parse_args(sys.argv[sys.argv.index("--") + 1 :])
bvh_path, png_path = args.bvh, args.png
if not os.path.isfile(bvh_path):  # (Blender's importer says it as a traceback through its operators)
    parser.error(f"{bvh_path}: no such file: pass a .bvh written by posecast export --bvh")
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(
    filepath=bvh_path,
    axis_forward="-Z",
    axis_up="Y",
    rotate_mode="NATIVE",
    update_scene_fps=True,
    update_scene_duration=True,
    use_fps_scale=False,
    frame_start=1,
)
scene = bpy.context.scene
armature = next(o for o in scene.objects if o.type == "ARMATURE")
start, end = (int(round(v)) for v in armature.animation_data.action.frame_range)
if args.frames:
    frames = [int(f) for f in args.frames.split(",")]
else:
    frames = [round(start + (end - start) * k / 4) for k in range(5)]

colours = {"left": (0.27, 0.54, 1.0, 1.0), "right": (1.0, 0.51, 0.17, 1.0), "centre": (0.92, 0.92, 0.92, 1.0)}
points = []
for n, f in enumerate(frames):
    scene.frame_set(f)
    fade = 0.35 + 0.65 * (n + 1) / len(frames)
    mats = {k: material(f"{k}{f}", tuple(c * fade for c in rgba[:3]) + (1.0,)) for k, rgba in colours.items()}
    shift = Vector((args.strip * n, 0.0, 0.0))
    for bone in armature.pose.bones:
        head = armature.matrix_world @ bone.head + shift
        points.append(head)
        ball(head, 0.035, mats[side(bone.name)])
        if bone.parent is not None:
            parent_head = armature.matrix_world @ bone.parent.head + shift
            if (head - parent_head).length > 1e-4:
                rod(parent_head, head, 0.02, mats[side(bone.name)])
armature.hide_render = True

centre = sum(points, Vector()) / len(points)
span = max((p - centre).length for p in points)
bpy.ops.mesh.primitive_plane_add(size=max(30.0, 10 * span), location=(centre.x, centre.y, 0.0))
bpy.context.active_object.data.materials.append(material("floor", (0.35, 0.37, 0.4, 1.0)))
distance = 2.4 * span + 1.2
bpy.ops.object.camera_add(location=(centre.x + 0.55 * distance, centre.y - 0.85 * distance, centre.z + 0.45 * distance))
camera = bpy.context.active_object
camera.rotation_euler = (centre - camera.location).to_track_quat("-Z", "Y").to_euler()
camera.data.lens = 40
scene.camera = camera
bpy.ops.object.light_add(type="SUN", location=(0, 0, 10))
bpy.context.active_object.data.energy = 3.0
bpy.context.active_object.rotation_euler = (math.radians(35), 0, math.radians(30))
world = bpy.data.worlds.new("world")
world.use_nodes = True
world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.11, 0.12, 0.14, 1.0)
scene.world = world

scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = 64
scene.cycles.use_denoising = False  # Debian's Blender is built without OpenImageDenoise
scene.render.resolution_x, scene.render.resolution_y = 800, 480
scene.render.image_settings.file_format = "PNG"
scene.render.filepath = png_path
bpy.ops.render.render(write_still=True)
