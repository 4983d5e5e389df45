"""Temporal stages after the lifter: bone-length smoothing (metric output) and a One Euro filter.

:class:`BoneLengthSmoother` turns the lifter's root-relative pose in arbitrary units into
metres with bone lengths that stay constant over time, the run-time form of the method's
``L_bone`` idea (one person has fixed bones). Algorithm, per frame:

1. Bone weights: ``w_b = min(conf[child], conf[parent])``, zero below ``min_confidence``.
2. Per-frame scale: the factor ``g`` that makes the weighted sum of the pose's bone lengths
   equal that of the current estimate (:func:`posecast.engines.camera.metric_scale`), over
   the bones observed before (on the first frame: all, against the reference).
   ``g · lengths`` is one sample, in metres, of every bone; a global size change of the
   lifted pose cancels here.
3. Robust running mean per bone: ``est += a · clip(sample − est, ± c · est)``. Until the
   bone has been seen for ``convergence_s`` of video it is the weighted mean over every frame
   since the reset (``a = w·dt / W``, ``W`` the accumulated weight·seconds: the first sample
   is taken as it is)
   with the wide clip ``warmup_clip_frac``. Afterwards the bone is locked (default, so lengths
   are constant until the next reset: a new subject or a lost track), or, with ``memory_s``
   set, follows an exponential mean with that time constant (``a = w·dt / memory_s``) and
   the narrow ``clip_frac``, so proportions keep adapting slowly.
4. Plausibility and size: the estimate is scaled by the one factor that makes the standing
   height it implies (:func:`skeleton.height_from_bone_lengths`) ``height_m`` (default: the
   reference's) once each bone is held within ``max_deviation_frac`` (20 %) of the reference
   (real adult proportions vary by about ±10 %; more is the lifter's error):
   :func:`scaled_within`. Proportions come from the video, size from the subject's height, and
   no bone is ever past the bound, the first frame's included.
5. Published lengths: the first frame publishes the estimate; then the published lengths
   follow it smoothly, exponentially with the time constant ``follow_s`` and by at most
   ``max_rate_frac_per_s`` of the reference length per second (rescaled to the height again), so a bone
   never jumps while the estimate settles. Once every bone is past ``convergence_s`` they go to
   the final estimate at that bounded rate, reach it and lock (with ``memory_s``: keep following).
6. Rebuild the pose along the kinematic tree, root at the origin, keeping each bone's
   direction: ``child = parent + L_b · unit(child − parent)``.

:meth:`BoneLengthSmoother.adopt` replaces the estimate (all bones or some) with a
measurement (live subject calibration, :mod:`.live_subject`): the bones count as settled and
step 5 takes the published lengths there. With ``fixed_lengths`` (a calibrated subject file)
steps 1–4 are skipped and the reference lengths are used as they are.

Measured at 30 fps on a walking mocap clip whose proportions differ by up to 10 % from the
typical adult, corrupted with ±15 % per-frame global scale and 5 % per-bone noise
(tests/realtime/lifting/test_smoothing.py): every bone within 2.5 % of the truth after 10 frames and
within 1.8 % from 2 s on; from 2 s on each output bone length stays within 0.6 % (max − min)
and changes by < 0.05 % from one frame to the next.

:class:`OneEuroFilter` (Casiez, Roussel, Vogel, CHI 2012) is an optional low-latency jitter
filter over an array of any shape. Both stages are causal and add no frame of delay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...engines import skeleton
from ..errors import OptionsError
from ..option_types import check_field_types

_PARENT = np.asarray([p for _, p in skeleton.BONES])
#: BONES lists bone b as (child b + 1, parent): the children are a slice.
_CHILD = slice(1, skeleton.NUM_JOINTS)
if [c for c, _ in skeleton.BONES] != list(range(1, skeleton.NUM_JOINTS)):
    raise ImportError("posecast.realtime.smoothing expects skeleton.BONES in joint order")
#: First-frame fallback direction for a zero-length bone (down the camera's y axis).
_DEFAULT_UNIT = np.array([0.0, 1.0, 0.0])
_HEIGHT_WEIGHTS = skeleton.HEIGHT_PER_BONE
_TALL = _HEIGHT_WEIGHTS > 0  # the bones of the vertical chain: the only ones the height depends on
_TALL_WEIGHTS = _HEIGHT_WEIGHTS[_TALL]
_NOMINAL_DT_S = 1.0 / 30.0
_MAX_DT_S = 0.25  # a frame after a longer gap (a dropout, a stalled camera) counts as this much


def scaled_within(lengths_m: np.ndarray, low_m: np.ndarray, high_m: np.ndarray, height_m: float) -> np.ndarray:
    """``clip(k · lengths_m, low_m, high_m)`` ``(16,)`` with the one factor ``k`` that makes its
    standing height (:func:`skeleton.height_from_bone_lengths`) ``height_m``: every bone within
    its bounds *and* the height kept, one common factor for the bones between them. Clipping
    first and then scaling to the height took bones past the bound (a first frame with short
    legs: a bone to +30 % of typical with a bound of 20 %; QA). ``lengths_m`` positive; a height
    the bounds cannot give (not with bounds around the height's own typical lengths) gets
    the clipped lengths scaled to it."""
    scaled = lengths_m * (height_m / float(_HEIGHT_WEIGHTS @ lengths_m))
    if ((scaled >= low_m) & (scaled <= high_m)).all():  # the common case: nothing to hold
        return scaled
    # the height is piecewise linear and non-decreasing in k, with a knot wherever a bone of the
    # vertical chain meets a bound: find the segment that reaches height_m and solve on it
    tall, low, high = lengths_m[_TALL], low_m[_TALL], high_m[_TALL]
    knots = np.sort(np.concatenate([low / tall, high / tall]))
    heights = np.minimum(np.maximum(knots[:, None] * tall, low), high) @ _TALL_WEIGHTS
    i = int(np.searchsorted(heights, height_m))  # the first knot at or above the height
    if i < len(knots) and heights[i] == height_m:
        k = knots[i]
    elif 0 < i < len(knots):  # linear between the knots around it
        k = knots[i - 1] + (knots[i] - knots[i - 1]) * (height_m - heights[i - 1]) / (heights[i] - heights[i - 1])
    else:
        clipped = np.clip(lengths_m, low_m, high_m)
        return clipped * (height_m / float(_HEIGHT_WEIGHTS @ clipped))
    return np.minimum(np.maximum(k * lengths_m, low_m), high_m)


def frame_seconds(timestamp_ns: int, last_ns: int | None, most_s: float = _MAX_DT_S) -> float:
    """How long the frame at ``timestamp_ns`` counts for (the previous one at ``last_ns``): the
    gap in seconds, 1/30 for the first frame, at most ``most_s`` (a dropout, a stalled camera)."""
    dt_s = _NOMINAL_DT_S if last_ns is None else (timestamp_ns - last_ns) * 1e-9
    return min(max(dt_s, 0.0), most_s)


@dataclass(frozen=True)
class BoneLengthSmootherOptions:
    """``reference_lengths_m`` ``(16,)`` in :data:`skeleton.BONES` order: a subject profile's
    lengths or :func:`skeleton.bone_lengths_from_height` (the starting estimate).
    ``height_m``: the standing height kept (``None``: the one the reference implies). Use
    :meth:`from_height` for the common case."""

    reference_lengths_m: tuple[float, ...]
    height_m: float | None = None
    fixed_lengths: bool = False
    convergence_s: float = 2.0
    memory_s: float | None = None  # None: lock each bone once converged
    min_confidence: float = 0.3
    clip_frac: float = 0.1
    warmup_clip_frac: float = 0.3
    #: the estimate stays within this fraction of the reference length per bone (None: free)
    max_deviation_frac: float | None = 0.2
    #: the published lengths follow the estimate with this time constant (seconds) ...
    follow_s: float = 0.15
    #: ... changing by at most this fraction of the reference length per second
    max_rate_frac_per_s: float = 0.2

    def __post_init__(self) -> None:
        ref = np.asarray(self.reference_lengths_m, dtype=np.float64)
        if ref.shape != (len(skeleton.BONES),) or not np.all(ref > 0):
            raise OptionsError(f"reference_lengths_m must be 16 positive lengths in metres, got {ref}")
        object.__setattr__(self, "reference_lengths_m", tuple(float(x) for x in ref))
        if self.height_m is not None and not skeleton.height_in_range(self.height_m):
            low, high = skeleton.HEIGHT_RANGE_M
            raise OptionsError(f"height_m must be in metres from {low} to {high}, got {self.height_m}")
        names = ("convergence_s", "clip_frac", "warmup_clip_frac", "follow_s", "max_rate_frac_per_s")
        for name in names + (("memory_s",) if self.memory_s is not None else ()):
            if not getattr(self, name) > 0:
                raise OptionsError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.memory_s is not None and self.memory_s < self.convergence_s:
            raise OptionsError(f"memory_s ({self.memory_s}) must be >= convergence_s ({self.convergence_s})")

    @classmethod
    def from_height(cls, height_m: float, **kwargs: object) -> BoneLengthSmootherOptions:
        """Options whose reference is the typical adult of ``height_m`` (lengths adapt)."""
        lengths = tuple(skeleton.bone_lengths_from_height(height_m))
        return cls(lengths, height_m, **kwargs)  # type: ignore[arg-type]


class BoneLengthSmoother:
    """Root-relative pose in arbitrary units → metres with steady bone lengths (module docstring)."""

    def __init__(self, options: BoneLengthSmootherOptions) -> None:
        self.options = options
        self._reference = np.asarray(options.reference_lengths_m, dtype=np.float64)
        self._height_m = options.height_m or skeleton.height_from_bone_lengths(self._reference)
        # adult proportions vary by ~±10 %: beyond max_deviation_frac is the lifter's error
        d = options.max_deviation_frac
        self._bounds = None if d is None else (self._reference * (1 - d), self._reference * (1 + d))
        self.reset()

    @property
    def height_m(self) -> float:
        """The standing height the lengths keep (metres)."""
        return self._height_m

    @property
    def bone_lengths_m(self) -> np.ndarray:
        """The published lengths ``(16,)`` in metres, :data:`skeleton.BONES` order (a copy)."""
        return self._published.copy()

    @property
    def converged(self) -> bool:
        """Every bone has ``convergence_s`` of confident observations and the published lengths
        have reached the estimate (or lengths are fixed)."""
        return self.options.fixed_lengths or self._locked

    def reset(self) -> None:
        """Forget the estimate (new subject, an untrusted pose): start again from the reference."""
        self._estimate = self._reference.copy()
        self._published = self._reference.copy()
        self._weight_s = np.zeros_like(self._reference)
        self._seen_s = np.zeros_like(self._reference)
        self._settled = False
        self._locked = False
        self._fresh = True
        self._last_ns: int | None = None
        self._units = np.tile(_DEFAULT_UNIT, (len(skeleton.BONES), 1))

    @property
    def estimate_m(self) -> np.ndarray:
        """The running estimate ``(16,)`` in metres that the published lengths follow (a copy)."""
        return self._estimate.copy()

    def adopt(self, lengths_m: np.ndarray, bones: np.ndarray | None = None) -> None:
        """Take ``lengths_m`` ``(16,)`` (a measurement, e.g. :mod:`.live_subject`'s) for the bones
        ``bones`` (indices; default all; the others keep the running estimate) as the settled
        estimate: the published lengths move there at ``max_rate_frac_per_s`` and lock (with ``memory_s``:
        keep following from there). Bounded and scaled to the height as any estimate."""
        if self.options.fixed_lengths:
            return
        lengths_m = np.asarray(lengths_m, dtype=np.float64)
        if lengths_m.shape != self._reference.shape or not np.all(lengths_m > 0):
            raise ValueError(f"expected 16 positive bone lengths in metres, got {lengths_m}")
        estimate = self._estimate.copy()
        taken = slice(None) if bones is None else np.asarray(bones, dtype=np.intp)
        estimate[taken] = lengths_m[taken]
        self._estimate = self._to_height(estimate)
        self._seen_s = np.maximum(self._seen_s, self.options.convergence_s)
        self._weight_s = np.maximum(self._weight_s, 1e-12)
        self._settled, self._locked = True, False
        if self._fresh:  # nothing published yet: publish the measurement from the first frame
            self._published, self._fresh = self._estimate.copy(), False

    def process(self, joints_rel: np.ndarray, timestamp_ns: int, confidence: np.ndarray | None = None) -> np.ndarray:
        """Pose ``(17, 3)`` in arbitrary units (root-relative, camera axes) and per-joint 2D
        confidence ``(17,)`` → pose ``(17, 3)`` float64 in metres, root at the origin."""
        if joints_rel.shape != (skeleton.NUM_JOINTS, 3):
            raise ValueError(f"expected a pose of shape (17, 3), got {joints_rel.shape}")
        vectors = joints_rel[_CHILD] - joints_rel[_PARENT]
        lengths = np.sqrt(np.einsum("bc,bc->b", vectors, vectors))
        if not np.isfinite(lengths).all():  # no pose (the network overflowed): say so, learn nothing
            return np.full((skeleton.NUM_JOINTS, 3), np.nan)
        if not self.options.fixed_lengths:
            self._update(lengths, timestamp_ns, confidence)
        valid = lengths > 1e-9
        if valid.all():
            self._units = vectors / lengths[:, None]
        else:  # a zero-length bone keeps its last direction
            self._units[valid] = vectors[valid] / lengths[valid, None]
        return skeleton.joints_from_bones(self._units, self._published)

    def _update(self, lengths: np.ndarray, timestamp_ns: int, confidence: np.ndarray | None) -> None:
        opts = self.options
        dt_s = frame_seconds(timestamp_ns, self._last_ns)
        # the clock never goes back: after an earlier timestamp the next step is measured from the
        # latest, not from the earlier one (which allowed it two frames' change; review)
        self._last_ns = timestamp_ns if self._last_ns is None else max(self._last_ns, timestamp_ns)
        if self._locked and opts.memory_s is None:  # locked: the lengths no longer change
            return
        if confidence is None:
            weights = np.ones_like(lengths)
        else:
            bone_conf = np.minimum(confidence[_CHILD], confidence[_PARENT])
            weights = np.where(bone_conf >= opts.min_confidence, bone_conf, 0.0)
        weights = weights * (lengths > 1e-9)
        if not (self._settled and opts.memory_s is None):
            self._update_estimate(lengths, weights, dt_s)
        self._follow(dt_s)

    def _follow(self, dt_s: float) -> None:
        """Move the published lengths towards the estimate (step 5 of the module docstring)."""
        if self._fresh:  # the first frame: nothing published yet to move away from
            if self._weight_s.any():
                self._published, self._fresh = self._estimate.copy(), False
            return
        if dt_s <= 0.0:  # no time passed (a repeated timestamp): no step (it was the whole gap at once; review)
            return
        gap = self._estimate - self._published
        # one factor for every bone, so the step keeps the height (both ends have it): the
        # exponential follow while settling, never more than max_rate_frac_per_s for any bone
        fraction = 1.0 - math.exp(-dt_s / self.options.follow_s) if not self._settled else 1.0
        step_limit = self.options.max_rate_frac_per_s * dt_s * self._reference
        largest = float(np.max(np.abs(gap) / step_limit))
        if largest > 0.0:
            fraction = min(fraction, 1.0 / largest)
        published = self._published + fraction * gap
        if self._settled and self.options.memory_s is None and fraction == 1.0:
            published, self._locked = self._estimate.copy(), True
        self._published = published

    def _update_estimate(self, lengths: np.ndarray, weights: np.ndarray, dt_s: float) -> None:
        """One sample into the running estimate (steps 2-4 of the module docstring)."""
        opts = self.options
        if self._settled:  # every bone past convergence_s: the short path of the branch below
            measured = float(weights @ lengths)
            if measured <= 0.0:
                return
            sample = lengths * (float(weights @ self._estimate) / measured)
            clip = opts.clip_frac * self._estimate
            step = np.minimum(np.maximum(sample - self._estimate, -clip), clip)
            estimate = self._estimate + weights * (dt_s / opts.memory_s) * step
        else:
            # camera.metric_scale against the current estimate, over bones seen before (a bone
            # still at its reference length would bias the scale), on the lengths already computed
            scale_weights = weights * (self._weight_s > 0)
            if not scale_weights.any():
                scale_weights = weights
            measured = float(scale_weights @ lengths)
            if measured <= 0.0:
                return
            sample = lengths * (float(scale_weights @ self._estimate) / measured)
            gain = weights * dt_s
            # warming lasts convergence_s of video in which the bone was seen (at any confidence)
            warming = self._seen_s < opts.convergence_s
            self._seen_s = self._seen_s + dt_s * (weights > 0)
            self._weight_s = self._weight_s + gain
            # warming: the weighted mean over every frame so far; then an exponential mean (memory_s)
            settled_rate = 0.0 if opts.memory_s is None else gain / opts.memory_s
            rate = np.where(warming, gain / np.maximum(self._weight_s, 1e-12), settled_rate)
            clip = np.where(warming, opts.warmup_clip_frac, opts.clip_frac) * self._estimate
            estimate = self._estimate + rate * np.clip(sample - self._estimate, -clip, clip)
            self._settled = bool(np.all(self._seen_s >= opts.convergence_s))
        self._estimate = self._to_height(estimate)

    def _to_height(self, estimate: np.ndarray) -> np.ndarray:
        """Step 4 of the module docstring: each bone within its bounds, the height the subject's."""
        if self._bounds is None:
            return estimate * (self._height_m / float(skeleton.HEIGHT_PER_BONE @ estimate))
        return scaled_within(estimate, *self._bounds, self._height_m)

    def close(self) -> None:
        """Nothing to release; present for the stage interface."""


@dataclass(frozen=True)
class OneEuroOptions:
    """``min_cutoff_hz``: cutoff at rest (lower: less jitter, more lag). ``beta``: how fast the
    cutoff rises with speed (higher: less lag on fast moves), in 1/(signal unit). ``d_cutoff_hz``:
    cutoff of the speed estimate."""

    min_cutoff_hz: float = 1.0
    beta: float = 0.0
    d_cutoff_hz: float = 1.0

    def __post_init__(self) -> None:
        check_field_types(self)
        if not (self.min_cutoff_hz > 0 and self.d_cutoff_hz > 0 and self.beta >= 0):
            raise OptionsError(f"One Euro needs cutoffs > 0 Hz and beta >= 0, got {self}")


class OneEuroFilter:
    """One Euro filter (Casiez et al. 2012), element-wise over an array of any fixed shape.

    ``process(x, timestamp_ns)`` with monotonic timestamps in **nanoseconds**. The first value
    passes through; then with ``dt`` in seconds and ``alpha(fc) = 1 / (1 + 1 / (2π fc dt))``:
    ``dx = (x − x̂_prev) / dt``, ``dx̂ = alpha(d_cutoff)·dx + (1 − alpha)·dx̂_prev``,
    ``fc = min_cutoff + beta·|dx̂|``, ``x̂ = alpha(fc)·x + (1 − alpha)·x̂_prev``. The speed is
    taken against the previous *filtered* value, as common ports do; the authors' reference code
    takes it against the previous raw value, a noisier speed that opens the cutoff sooner. A
    timestamp that does not advance returns the previous output unchanged.
    """

    def __init__(self, options: OneEuroOptions | None = None) -> None:
        self.options = options or OneEuroOptions()
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._last_ns = 0

    def process(self, x: np.ndarray, timestamp_ns: int) -> np.ndarray:
        """Filtered copy of ``x`` (float64, same shape)."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx, self._last_ns = x.copy(), np.zeros_like(x), timestamp_ns
            return x.copy()
        if x.shape != self._x.shape:
            raise ValueError(f"One Euro filter was started on shape {self._x.shape}, got {x.shape}")
        dt_s = (timestamp_ns - self._last_ns) * 1e-9
        if dt_s <= 0:
            return self._x.copy()
        self._last_ns = timestamp_ns
        opts = self.options
        dx = (x - self._x) / dt_s
        a_d = _alpha(opts.d_cutoff_hz, dt_s)
        self._dx = a_d * dx + (1.0 - a_d) * self._dx
        cutoff = opts.min_cutoff_hz + opts.beta * np.abs(self._dx)
        a = _alpha(cutoff, dt_s)
        self._x = a * x + (1.0 - a) * self._x
        return self._x.copy()

    def close(self) -> None:
        """Nothing to release; present for the stage interface."""


def _alpha(cutoff_hz: float | np.ndarray, dt_s: float) -> float | np.ndarray:
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff_hz * dt_s))
