"""``posecast view``: watch the live 3D in a browser. :mod:`.server` serves a local page
(three.js vendored under ``static/vendor/``, built by ``bundle/``) fed from the ZeroMQ stream
over a WebSocket."""
