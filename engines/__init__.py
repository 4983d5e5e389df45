"""posecast's engines: the networks, their backends and training, and the maths and files they share."""

import os

#: The most pixels an image may have under the ``posecast`` command unless the user set
#: ``OPENCV_IO_MAX_IMAGE_PIXELS`` (134 megapixels, e.g. 16384 x 8192; a camera's are far fewer).
#: OpenCV's own is a gigapixel: a 1 MB PNG of 30000 x 30000 took 3.8 GB to decode.
DEFAULT_MAX_IMAGE_PIXELS = 1 << 27
#: OpenCV's limit where nothing set the variable.
OPENCV_MAX_IMAGE_PIXELS = 1 << 30
_LIMIT_VARIABLE = "OPENCV_IO_MAX_IMAGE_PIXELS"


def limit_image_pixels() -> None:
    """Give OpenCV :data:`DEFAULT_MAX_IMAGE_PIXELS` unless the user set a limit: the command
    calls it before cv2 loads (OpenCV reads the variable then). Not on import: a program that
    uses posecast as a library kept the lower limit in its own cv2 and its child processes (QA)."""
    os.environ.setdefault(_LIMIT_VARIABLE, str(DEFAULT_MAX_IMAGE_PIXELS))


def max_image_pixels() -> int:
    """The most pixels OpenCV decodes in this process (as the variable was set before cv2 loaded)."""
    try:
        return int(os.environ[_LIMIT_VARIABLE])
    except (KeyError, ValueError):
        return OPENCV_MAX_IMAGE_PIXELS
