"""Training, evaluation and export of the scale and lifting networks (needs ``posecast[train]``).

Imports torch. The live path (``posecast.realtime``, ``posecast.engines.runtime``) never imports
anything from here.
"""
