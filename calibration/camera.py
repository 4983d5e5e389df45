"""Camera calibration from views of a board: intrinsics, distortion, RMS, bad-view rejection.

:func:`calibrate_views` runs OpenCV's calibration on board detections and drops views whose own
RMS reprojection error is an outlier (above ``outlier_factor`` × the median and above
``min_reject_px``), recalibrating until no view is dropped. :func:`calibrate_image_dir` screens a
folder of images (unreadable, empty, blurry → skipped with a count), detects the board in the
rest and calibrates at the size of most of the images with a board (the images of other sizes
are skipped, with a warning naming them). When the free k3 folds the fitted distortion over the
image, :func:`calibrate_views` fits again with k3 fixed at 0. Live capture is in
:mod:`posecast.calibration.live`.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from ..engines.fileio import input_folder_problem
from ..engines.media import IMAGE_SUFFIXES, ImageTooLargeError, image_files, read_image, unread_photos_notice
from .board import (
    DEFAULT_MIN_SHARPNESS,
    BoardDetector,
    BoardSpec,
    Detection,
    ImageQuality,
    image_quality,
    to_gray,
)
from .errors import CalibrationError, DistortionFoldError
from .intrinsics import CameraIntrinsics, utc_now_iso

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationOptions:
    """How views are judged. ``min_views`` good views are needed after rejection."""

    min_views: int = 10
    outlier_factor: float = 3.0  # a view is an outlier above this × the median per-view RMS ...
    min_reject_px: float = 0.5  # ... and above this many pixels
    max_rounds: int = 5
    fix_k3: bool = False  # estimate only k1, k2, p1, p2 (narrow lenses, few views)
    min_sharpness: float = DEFAULT_MIN_SHARPNESS

    def __post_init__(self) -> None:
        if self.min_views < 3:
            raise CalibrationError(f"min_views must be at least 3, got {self.min_views}")
        if self.outlier_factor <= 1.0:
            raise CalibrationError(f"outlier_factor must be above 1, got {self.outlier_factor}")
        if not 0.0 <= self.min_sharpness < math.inf:
            raise CalibrationError(f"--min-sharpness (CalibrationOptions.min_sharpness) must be 0 or more (0: keep "
                                   f"blurry ones), got {self.min_sharpness}")  # fmt: skip


@dataclass(frozen=True)
class CalibrationResult:
    """The intrinsics and how they were obtained.

    ``per_view_rms_px`` ``(V,)`` belongs to the kept views, whose input indices are ``kept``;
    ``skipped`` counts input images not used, by reason (``empty``, ``blurry``, ``no board``, ...).
    """

    intrinsics: CameraIntrinsics
    per_view_rms_px: np.ndarray
    kept: tuple[int, ...]
    rejected: tuple[int, ...]
    skipped: dict[str, int] = field(default_factory=dict)
    k3_fixed: bool = False  # k3 held at 0: asked for (``fix_k3``), or because the free k3 folded the image
    #: how well the views pin the camera down: fx's standard deviation (OpenCV's estimate), % of fx
    fx_uncertainty_pct: float = 0.0
    #: the share of the image the board's corners covered over the kept views (their convex hull), %
    coverage_pct: float = 100.0


def calibrate_views(
    views: Sequence[Detection],
    image_size: tuple[int, int],
    options: CalibrationOptions | None = None,
    source: str = "",
) -> CalibrationResult:
    """Calibrate from board detections in images of ``image_size`` ``(width, height)``.

    When the free k3 folds the distortion model over the image (it is fitted only where the board
    was, and the r⁶ term can turn the curve back before the corners), the views are calibrated
    again with k3 fixed at 0 (as ``fix_k3`` does) and a warning says so; only if that fit folds
    too is the calibration refused.
    """
    options = options or CalibrationOptions()
    if len(views) < options.min_views:
        raise CalibrationError(
            f"too few good views: found {len(views)}, need at least {options.min_views}; "
            "add images showing the whole board at different positions and tilts"
        )
    width, height = image_size
    fit = _fit_rejecting_outliers(views, image_size, options)
    _check_tilted(fit)
    try:
        intrinsics = _intrinsics(fit, views, image_size, options, source)
    except DistortionFoldError as fold:
        if options.fix_k3:
            raise _folded(fold) from None
        log.warning(
            "the fitted distortion (k3 = %.3g) %s: a free k3 can fold it near the image corners, where no board "
            "was seen; calibrating again with k3 fixed at 0, as --fix-k3 does",
            fit.dist[4],
            fold.problem,
        )
        options = replace(options, fix_k3=True)
        fit = _fit_rejecting_outliers(views, image_size, options)
        _check_tilted(fit)
        try:
            intrinsics = _intrinsics(fit, views, image_size, options, source)
        except DistortionFoldError as again:
            raise _folded(again) from None
    log.info(
        "calibrated %dx%d: fx %.1f fy %.1f cx %.1f cy %.1f, RMS %.3f px over %d views (%d rejected%s)",
        width,
        height,
        intrinsics.fx,
        intrinsics.fy,
        intrinsics.cx,
        intrinsics.cy,
        fit.rms_px,
        len(fit.kept),
        len(fit.rejected),
        ", k3 fixed at 0" if options.fix_k3 else "",
    )
    fx_pct = 100.0 * fit.fx_sd / intrinsics.fx
    points = np.concatenate([views[i].image_points.reshape(-1, 2) for i in fit.kept]).astype(np.float32)
    coverage = 100.0 * cv2.contourArea(cv2.convexHull(points)) / (width * height)
    if fx_pct > MAX_FX_UNCERTAINTY_PCT or coverage < MIN_COVERAGE_PCT:
        # a low RMS says the corners fit, not that the lens is known where no board was (QA: the
        # board in the centre alone, RMS 0.07 px, was 83-156 px wrong in the corners)
        log.warning("these views pin the camera down poorly: fx +/- %.2f %% (good sets: under %.1f %%), the board "
                    "covered %.0f %% of the image: the fit holds where the board was; add views with the board "
                    "near each corner and edge of the image, tilted, and calibrate again", fx_pct,
                    MAX_FX_UNCERTAINTY_PCT, coverage)  # fmt: skip
    return CalibrationResult(intrinsics, fit.per_view_rms_px, tuple(fit.kept), tuple(sorted(fit.rejected)),
                             k3_fixed=options.fix_k3, fx_uncertainty_pct=fx_pct, coverage_pct=coverage)  # fmt: skip


#: A view shows the focal length only through perspective, its near corners drawn larger than its
#: far ones; a board parallel to the image is only scaled and shifted, whatever the focal length.
#: Its figure is the depth across the board: how far its corners' distances from the camera spread,
#: as a share of its centre's distance (in %), in the fit's pose. No camera matrix changes it (the
#: matrix's last row is (0, 0, 1): neither the focal length nor the centre moves a corner nearer);
#: only the fitted distortion could, and the detected corners' own homography, that distortion
#: taken out, gives the same figure (within 1.2 points on the real sets below). A set with fewer than
#: :data:`MIN_DEEP_VIEWS` views at :data:`MIN_DEPTH_PCT` or more is refused. The board's tilt in
#: degrees, judged before, is the fit's to make up: QA's 12 face-on views at 1280x720 with k3
#: fixed fitted fx 11164 (a 6.6 degree field of view), the board 6-11 m away, where tilts up to
#: 5.7 degrees show no more perspective than none: depth 0.2 % at most (2026-12-08). Measured then:
#: face-on sets through lenses of 49-90 degrees, k1 -0.05 to -0.33, came to 0.9 % at most (the
#: raw corners, distortion left in, to 31 %: a wide lens bends a board near the edge as a tilt
#: does); 4 real photo sets (13-17 views, 640x480 to 2592x1944) 23-36 % in their second deepest
#: view. Over 2,816 synthetic fits (10-20 views, tilts 0-25 degrees, boards 10-60 % of the image
#: wide, corner noise 0.05-0.3 px) every set with two views at 4 % had fx within 0.8 % or was
#: warned (its uncertainty over 0.3 %, below); under it, sets were up to 77 % off with OpenCV's
#: uncertainty under 0.3 % (the deepest such 3.5 %). One deep view among 11 face-on ones fixes
#: too little: fx up to 9 % off through a 49 degree lens, said 0.04-0.07 %; with two, within 0.1 %
#: or warned (up to 3.3 % off).
MIN_DEPTH_PCT = 4.0
MIN_DEEP_VIEWS = 2

#: Above this standard deviation of fx (% of fx, OpenCV's estimate) a calibration is said to pin
#: the camera down poorly: good sets of 15-20 tilted views give under 0.1 %; far or few boards ~1 %.
MAX_FX_UNCERTAINTY_PCT = 0.3
#: Below this share of the image covered by the board's corners (over all views) likewise: the
#: lens is extrapolated outside it.
MIN_COVERAGE_PCT = 20.0


#: A view whose leaving out brings the others' RMS below this fraction of it is rejected (when its
#: own error is above ``min_reject_px``): it fits no lens the others fit.
MAX_RMS_RATIO_WITHOUT_A_VIEW = 0.85


@dataclass(frozen=True)
class _Fit:
    """One calibration of the kept views: RMS, ``k`` (3, 3), ``dist`` (5,), per-view RMS (V,), fx's
    standard deviation (pixels)."""

    rms_px: float
    k: np.ndarray
    dist: np.ndarray
    per_view_rms_px: np.ndarray
    kept: list[int]
    rejected: list[int]
    fx_sd: float = 0.0
    #: each kept view's depth across the board, % of its distance (see :data:`MIN_DEPTH_PCT`)
    depths_pct: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _fit_rejecting_outliers(
    views: Sequence[Detection], image_size: tuple[int, int], options: CalibrationOptions
) -> _Fit:
    """Calibrate, drop outlier views and calibrate again until none is dropped (see module docstring)."""
    kept = list(range(len(views)))
    rejected: list[int] = []
    for _ in range(options.max_rounds):
        rms, k, dist, errors, fx_sd, depths = _calibrate([views[i] for i in kept], image_size, options)
        threshold = max(options.outlier_factor * float(np.median(errors)), options.min_reject_px)
        bad = [i for i, e in zip(kept, errors, strict=True) if e > threshold]
        if not bad:
            break
        log.info("rejecting %d view(s) with reprojection error above %.2f px", len(bad), threshold)
        if len(kept) - len(bad) < options.min_views:
            raise CalibrationError(
                f"too few good views: {len(kept) - len(bad)} of {len(views)} have a reprojection error "
                f"below {threshold:.2f} px, need at least {options.min_views}; "
                "add sharper views of a flat board"
            )
        rejected += bad
        kept = [i for i in kept if i not in bad]
    else:  # still rejecting after max_rounds: use the last consistent fit
        rms, k, dist, errors, fx_sd, depths = _calibrate([views[i] for i in kept], image_size, options)
    # Views of another lens (or a board that moved during the shot) pull the fit towards
    # themselves and raise every view's error, so none stands out by the median: QA's 3 views of
    # another camera among 18 gave RMS 0.9 px, fx 22 % off, nothing rejected. The worst view goes
    # while the others fit clearly better without it (clean sets: 6-8 % better a view; those
    # three: 21, 41, 69 %) and it is off by more than min_reject_px.
    while len(kept) > options.min_views:
        worst = int(np.argmax(errors))
        if errors[worst] <= options.min_reject_px:
            break
        others = [i for n, i in enumerate(kept) if n != worst]
        trial = _calibrate([views[i] for i in others], image_size, options)
        if trial[0] > MAX_RMS_RATIO_WITHOUT_A_VIEW * rms:
            break
        log.info("rejecting view %d: the others fit a lens %.0f %% better without it (RMS %.2f -> %.2f px)",
                 kept[worst], 100 * (1 - trial[0] / rms), rms, trial[0])  # fmt: skip
        rejected.append(kept[worst])
        kept = others
        rms, k, dist, errors, fx_sd, depths = trial
    return _Fit(rms, k, dist, np.asarray(errors, np.float64), kept, rejected, fx_sd, depths)


def _check_tilted(fit: _Fit) -> None:
    """Refuse a fit with fewer than :data:`MIN_DEEP_VIEWS` views showing the board in perspective
    (see :data:`MIN_DEPTH_PCT`): the board faces the camera squarely in the others."""
    deepest = sorted(fit.depths_pct.tolist(), reverse=True)
    if len(deepest) >= MIN_DEEP_VIEWS and deepest[MIN_DEEP_VIEWS - 1] >= MIN_DEPTH_PCT:
        return
    needed = f"{MIN_DEEP_VIEWS} views need {MIN_DEPTH_PCT:g} % or more"
    if not deepest or deepest[0] < MIN_DEPTH_PCT:
        where, most, why = "every view", deepest[0] if deepest else 0.0, "a board parallel to the image shows"
    else:  # (MIN_DEEP_VIEWS is 2: all but one)
        where, most, why = "every view but one", deepest[1], "one tilted view fixes"
    raise CalibrationError(
        f"the board faces the camera squarely in {where} (the depth across it is {most:.1f} % of its distance at "
        f"most, {needed}): {why} no focal length (the fit's fx {fit.k[0, 0]:.0f} is a guess); photograph the "
        "board tilted 30-45 degrees in several directions, and calibrate again"
    )


def _intrinsics(
    fit: _Fit, views: Sequence[Detection], image_size: tuple[int, int], options: CalibrationOptions, source: str
) -> CameraIntrinsics:
    """The fit as :class:`CameraIntrinsics` (raises :class:`DistortionFoldError` when its distortion
    folds; any other value out of a real lens's range is the views' fault, said so)."""
    width, height = image_size
    text = f"{source}, " if source else ""
    k3 = ", k3 fixed at 0" if options.fix_k3 else ""
    try:
        return CameraIntrinsics.from_matrix(
            fit.k,
            fit.dist,
            width,
            height,
            rms_px=fit.rms_px,
            assumed=False,
            source=f"{text}{len(fit.kept)}/{len(views)} views{k3}",
            date=utc_now_iso(),
        )
    except DistortionFoldError:
        raise
    except CalibrationError as exc:  # e.g. a k2 of thousands from views nearly face-on
        raise CalibrationError(
            f"the calibration is not a plausible lens ({exc}): the views do not pin it down; photograph the board "
            "tilted 30-45 degrees in several directions and near each corner of the image, and calibrate again"
        ) from None


def _folded(fold: DistortionFoldError) -> CalibrationError:
    """The refusal when even the fit with k3 fixed folds: the views do not pin the lens down."""
    return CalibrationError(
        f"the calibrated distortion [{', '.join(f'{d:.4g}' for d in fold.distortion)}] {fold.problem}, even with "
        "k3 fixed at 0 (--fix-k3): "
        "the views do not show the lens near the image corners; add photos with the board close to each corner "
        "and edge of the image, where the lens bends most, and calibrate again"
    )


#: OpenCV's Levenberg-Marquardt steps at most (it ends sooner once a step no longer improves the
#: fit): a wide webcam (90 degrees across, k1 -0.28) needed 100-300 from OpenCV's start, and a cap
#: of 100 left fx 26 % off at RMS 0.68 px, its good views then rejected as outliers (QA).
MAX_ITERATIONS = 1000


def _calibrate(views: Sequence[Detection], image_size: tuple[int, int], options: CalibrationOptions):
    flags = cv2.CALIB_FIX_K3 if options.fix_k3 else 0
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, MAX_ITERATIONS, 1e-10)
    try:
        rms, k, dist, rvecs, tvecs, sd_intrinsics, _, errors = cv2.calibrateCameraExtended(
            [v.object_points for v in views],
            [v.image_points for v in views],
            tuple(image_size),
            None,
            None,
            flags=flags,
            criteria=criteria,
        )
    except cv2.error as exc:
        raise CalibrationError(
            f"OpenCV could not calibrate from {len(views)} views ({str(exc).strip().splitlines()[-1]}); "
            "use views with the board tilted in different directions"
        ) from None
    fx_sd = float(np.ravel(sd_intrinsics)[0]) if sd_intrinsics is not None and np.size(sd_intrinsics) else 0.0
    depths = np.array([depth_across_pct(v.object_points, r, t) for v, r, t in zip(views, rvecs, tvecs, strict=True)])
    return float(rms), k, dist.ravel(), np.asarray(errors, np.float64).ravel(), fx_sd, depths


def depth_across_pct(board_points: np.ndarray, rvec: np.ndarray, tvec: np.ndarray) -> float:
    """How far the distances from the camera of a view's board points ``(N, 3)`` spread, as a
    share of the distance of their centre (%), with the board at pose ``rvec``, ``tvec`` (see
    :data:`MIN_DEPTH_PCT`): 0 for a board parallel to the image."""
    points = np.asarray(board_points, np.float64).reshape(-1, 3)
    row = cv2.Rodrigues(np.asarray(rvec, np.float64))[0][2]  # the camera's z of a board point: row · p + tz
    depths = points @ row + float(np.ravel(tvec)[2])
    centre = float(points.mean(axis=0) @ row) + float(np.ravel(tvec)[2])
    return 100.0 * float(depths.max() - depths.min()) / centre if centre > 0 else 0.0


#: A photo whose board lies within this share of the board's own extent in pixels (the diagonal of
#: the earlier photo's corners) of an earlier photo's (mean corner distance), and at most
#: :data:`SAME_POSE_DIAGONALS` of the image's diagonal, repeats that pose: a burst's or a
#: tripod's shots, a few tenths of a pixel apart. Relative to the board: a board 120 px wide
#: tilted by 20 degrees moves its corners 2 px, and at 0.5 % of a 1280x720 diagonal (7 px) such
#: views were taken for one (review). (The live collector asks more of a new view, ``min_novelty``,
#: 5 % of the image's diagonal: in a folder of photos, poses that close are tilted differently.)
SAME_POSE_BOARD = 0.003
SAME_POSE_DIAGONALS = 0.005


def mean_corner_distance_px(a: Detection, b: Detection) -> float:
    """The mean distance between two views' corners, in pixels (``inf`` for different boards)."""
    if a.image_points.shape != b.image_points.shape:
        return float("inf")
    return float(np.linalg.norm(a.image_points - b.image_points, axis=-1).mean())


def distinct_poses(views: Sequence[Detection], image_size: tuple[int, int]) -> list[Detection]:
    """``views`` less those repeating an earlier one's pose (:data:`SAME_POSE_DIAGONALS`): a burst
    or a tripod's shots of one pose add nothing a fit can tell the lens by, and counted as views
    they passed ``min_views`` (QA: 12 shots of one pose, fx 24 % off, exit 0, no warning)."""
    most_px = SAME_POSE_DIAGONALS * float(np.hypot(*image_size))
    kept: list[tuple[Detection, float]] = []  # each with the distance within which a view repeats it
    for view in views:
        if all(mean_corner_distance_px(view, other) >= apart_px for other, apart_px in kept):
            extent_px = float(np.linalg.norm(np.ptp(view.image_points.reshape(-1, 2), axis=0)))
            kept.append((view, min(SAME_POSE_BOARD * extent_px, most_px)))
    return [view for view, _ in kept]


def list_images(directory: str | Path) -> list[Path]:
    """Image files in ``directory`` (sorted); raises if it is missing or holds none."""
    directory = Path(directory)
    if (problem := input_folder_problem(directory)) is not None:
        why = "is a file, not a folder" if problem == "is not a folder" else problem
        raise CalibrationError(f"image directory {directory} {why}; pass a folder of board photos")
    paths, others = image_files(directory)
    if not paths:
        fix = unread_photos_notice(directory, others) if others else "put photos of the board there"
        raise CalibrationError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {directory}; {fix}")
    if others:  # left out: said, as an image-folder source says it (QA: silent here)
        log.warning("%s", unread_photos_notice(directory, others))
    return paths


def calibrate_image_dir(
    directory: str | Path, board: BoardSpec, options: CalibrationOptions | None = None
) -> CalibrationResult:
    """Detect ``board`` in every image of ``directory`` and calibrate (see module docstring)."""
    options = options or CalibrationOptions()
    paths = list_images(directory)
    detector = BoardDetector(board)
    skipped: Counter[str] = Counter()
    looked: list[tuple[Path, tuple[int, int], Detection | str]] = []  # (image, (width, height), detection or why not)
    for path in paths:
        try:
            image = read_image(path, cv2.IMREAD_GRAYSCALE)
        except ImageTooLargeError as exc:
            skipped["unreadable"] += 1
            log.warning("skipping %s: %s", path.name, exc)
            continue
        if image is None:
            skipped["unreadable"] += 1
            broken = path.is_symlink() and not path.exists()  # (review: image folders count links to nothing)
            log.warning("skipping %s: %s", path.name, "a link to nothing" if broken else "not a readable image")
            continue
        looked.append((path, (image.shape[1], image.shape[0]), _look(image, detector, options)))
    image_size = _common_size(looked, len(paths))
    views: list[Detection] = []
    screened = 0
    for path, size, outcome in looked:
        if size != image_size:
            skipped["other size"] += 1
        elif isinstance(outcome, Detection):
            screened += 1
            views.append(outcome)
        elif outcome == NO_BOARD:
            screened += 1
            skipped[NO_BOARD] += 1
            # (QA: a wrong --board said this for each of 20 photos before its one-line error)
            log.debug("no %s found in %s", board.describe(), path.name)
        else:
            skipped[outcome] += 1
            log.warning("skipping %s: %s", path.name, outcome)
    if screened == 0:
        raise CalibrationError(
            f"none of the {len(paths)} images in {directory} is usable ({_counted(skipped)}); "
            "take sharp, well-lit photos of the board (hold still, or raise the light)"
        )
    size_hint = (  # (QA: a chessboard cut off in every photo was blamed on --board alone)
        "COLSxROWS counts the board's squares for --charuco"
        if board.charuco
        else "COLSxROWS counts the inner corners (a board of 10x7 squares is 9x6); and a chessboard is found only "
        "whole, every corner in the photo"
    )
    if not views:
        raise CalibrationError(
            f"no {board.describe()} found in any of {screened} usable images in {directory}; "
            f"check --board {board.size_text}: {size_hint}"
        )
    log.info("board found in %d of %d images (skipped: %s)", len(views), len(paths), _counted(skipped) or "none")
    found, views = len(views), distinct_poses(views, image_size or (0, 0))
    repeats = found - len(views)
    if repeats and len(views) < options.min_views:
        raise CalibrationError(
            f"too few board poses: {repeats} of the {found} photos with the board in {directory} repeat another's "
            f"pose (its corners within {SAME_POSE_BOARD:.1%} of the board's size), leaving {len(views)} "
            f"different ones, need at least {options.min_views}; move and tilt the board between photos"
        )
    if repeats:
        skipped["repeated pose"] += repeats
        log.info("%d photos repeat another's board pose: each pose counted once", repeats)
    if len(views) < options.min_views:
        # A wrong size still matches a part of the board in a few views: when most sharp images
        # show no board of this size, the size is the likelier fault than the photos.
        fix = (
            f"if the board is in most of them, check --board {board.size_text} ({size_hint}); else add photos"
            if skipped[NO_BOARD] > len(views)
            else "add photos"
        )
        raise CalibrationError(
            f"too few good views: found {len(views)}, need at least {options.min_views} (board found in "
            f"{len(views)} of {len(paths)} images in {directory}; skipped: {_counted(skipped) or 'none'}); {fix} of "
            "the whole board at different positions and tilts"
        )
    result = calibrate_views(views, image_size or (0, 0), options, source=board.describe())
    return replace(result, skipped=dict(skipped))


def _counted(skipped: Counter[str]) -> str:
    """``"1 blurry, 3 no board"``: how many images were skipped for each reason."""
    return ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))


#: Why an image holds no view, besides the :class:`ImageQuality` values
NO_BOARD = "no board"


def _look(image: np.ndarray, detector: BoardDetector, options: CalibrationOptions) -> Detection | str:
    """The board's detection in ``image`` ``(H, W[, C])``, or why there is none: ``empty``,
    ``blurry`` (:class:`ImageQuality`) or ``no board``."""
    gray = to_gray(image)
    quality = image_quality(gray, options.min_sharpness)
    if quality is not ImageQuality.OK:
        return quality.value
    detection = detector.detect(gray)
    return NO_BOARD if detection is None else detection


def _common_size(looked: Sequence[tuple[Path, tuple[int, int], object]], total: int) -> tuple[int, int] | None:
    """The ``(width, height)`` of most of the images in which the board was found (of most readable
    images when it was found in none; on a tie, the earlier image's); a warning names how many
    images have another size and which, and they are skipped."""
    boards: Counter[tuple[int, int]] = Counter()
    images: Counter[tuple[int, int]] = Counter()
    for _, size, outcome in looked:
        images[size] += 1
        boards[size] += isinstance(outcome, Detection)
    if not images:
        return None
    def rank(size: tuple[int, int]) -> tuple[int, int]:
        return boards[size], images[size]

    width, height = max(images, key=rank)  # the first of equals
    tied = sum(rank(size) == rank((width, height)) for size in images) > 1
    others = [f"{path.name} ({size[0]}x{size[1]})" for path, size, _ in looked if size != (width, height)]
    if others:
        listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        log.warning(
            "skipping %d of the %d images: not %dx%d like the %d others (%s)%s",
            len(others),
            total,
            width,
            height,
            images[(width, height)],
            listed,
            "; another size has as many, so the first image's size was taken: keep one camera's photos "
            "in the folder" if tied else "",
        )
    return width, height
