"""posecast's engines: the networks, their backends and training, and the maths and files they share."""

import os

# OpenCV reads its limit on an image's pixels once, when it loads; every posecast package imports
# this one first, so the limit is set before cv2 is (engines.media.MAX_IMAGE_PIXELS; a value the
# user set wins). OpenCV's own is a gigapixel: a 1 MB PNG of 30000 x 30000 took 3.8 GB to decode.
#: The most pixels an image may have unless the user set ``OPENCV_IO_MAX_IMAGE_PIXELS`` (134
#: megapixels, e.g. 16384 x 8192; a camera's are far fewer).
DEFAULT_MAX_IMAGE_PIXELS = 1 << 27
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(DEFAULT_MAX_IMAGE_PIXELS))
