"""A real pose shared by the floor tests (tests/calibration/test_floor.py,
tests/realtime/test_floor_on_clips.py)."""

import numpy as np

#: The dance scaled to 720 x 720 in a 1280 x 720 frame, blanked below 48 % of its height and
#: re-encoded with OpenCV (mp4v), 0.2 s in, through the lifter (camera frame, metres): the one pose
#: of the clip whose ankles MediaPipe saw (confidence 0.71 and 0.51) below the body, 7.9 m away; its
#: floor 0.75 m up (the clip's own: 1.46 m). (Decoded from PNGs instead of the re-encode, MediaPipe
#: sees no ankle in that clip: test_floor_on_clips.py puts the pose back in by hand.)
DANCE_CUT_STRAY = np.array([
    [0.005, -0.114, 7.952], [-0.081, -0.114, 7.955], [-0.21, -0.073, 7.543], [-0.091, 0.232, 7.725],
    [0.09, -0.114, 7.94], [0.111, -0.189, 7.479], [0.129, 0.178, 7.558], [-0.002, -0.318, 7.85],
    [-0.008, -0.514, 7.727], [-0.005, -0.601, 7.661], [-0.001, -0.69, 7.596], [0.124, -0.507, 7.715],
    [0.236, -0.222, 7.814], [0.28, 0.025, 7.714], [-0.14, -0.521, 7.743], [-0.267, -0.255, 7.873],
    [-0.361, -0.012, 7.833]])  # fmt: skip
