"""Moved to :mod:`posecast.engines.layouts`, where the ``posecast lift`` input format reads them
too; kept so that detectors written against this module still import."""

from ..engines.layouts import COCO_17, LAYOUTS, MEDIAPIPE_33, POSECAST_17, KeypointLayout

__all__ = ["COCO_17", "LAYOUTS", "MEDIAPIPE_33", "POSECAST_17", "KeypointLayout"]
