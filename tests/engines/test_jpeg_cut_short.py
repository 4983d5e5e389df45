"""A JPEG copied only in part (a transfer stopped, a card pulled out): libjpeg printed its own raw
line ("Premature end of JPEG file") and OpenCV handed back the image grey below the cut, which was
then lifted as a frame. ``jpeg_cut_short`` finds it from the file's structure, and ``read_image``
and the image-folder source skip it as an unreadable image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from posecast.engines.media import jpeg_cut_short, png_damaged, read_image
from posecast.realtime.sources.images import ImageFolderSource

IMAGE = (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)


def _jpeg(**params: int) -> bytes:
    flags = [v for pair in ((getattr(cv2, k), v) for k, v in params.items()) for v in pair]
    return cv2.imencode(".jpg", IMAGE, flags)[1].tobytes()


def _with_thumbnail(jpeg: bytes) -> bytes:
    """An APP1 (EXIF) segment holding a whole small JPEG, with its own SOI and EOI, after the SOI."""
    thumb = cv2.imencode(".jpg", IMAGE[::8, ::8])[1].tobytes()
    payload = b"Exif\x00\x00" + thumb
    return jpeg[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


@pytest.mark.parametrize("kind", ["baseline", "progressive", "restart markers", "EXIF thumbnail"])
def test_whole_jpegs_pass_and_every_cut_is_found(kind: str) -> None:
    data = {"baseline": _jpeg(), "progressive": _jpeg(IMWRITE_JPEG_PROGRESSIVE=1),
            "restart markers": _jpeg(IMWRITE_JPEG_RST_INTERVAL=4),
            "EXIF thumbnail": _with_thumbnail(_jpeg())}[kind]  # fmt: skip
    assert not jpeg_cut_short(data)
    assert not jpeg_cut_short(data + b"\x00" * 64 + b"motion photo video after the image" * 50)  # after the EOI
    for fraction in np.linspace(0.05, 0.999, 25):
        assert jpeg_cut_short(data[: int(len(data) * fraction)]), fraction
    assert jpeg_cut_short(data[:-1])


def test_other_files_are_not_judged() -> None:
    png = cv2.imencode(".png", IMAGE)[1].tobytes()
    assert not jpeg_cut_short(png) and not jpeg_cut_short(b"") and not jpeg_cut_short(png[:100])


def test_a_cut_jpeg_in_a_folder_is_skipped_without_libjpegs_line(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    whole = _jpeg()
    (tmp_path / "000.jpg").write_bytes(whole)
    (tmp_path / "001.jpg").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "002.jpg").write_bytes(whole)
    assert read_image(tmp_path / "001.jpg") is None and read_image(tmp_path / "000.jpg").shape == IMAGE.shape
    with ImageFolderSource(tmp_path) as source:
        ids = [frame.frame_id for frame in iter(source.read, None)]
        skipped = source.skipped_images
    assert ids == [0, 2] and skipped == 1
    assert "Premature end of JPEG" not in capfd.readouterr().err


def test_png_cut_short_or_damaged_is_found() -> None:
    """libpng printed "libpng error: PNG input buffer is incomplete" (or "IDAT: CRC error") past
    posecast's log, beside posecast's own line skipping the image (calibration QA)."""
    data = cv2.imencode(".png", IMAGE)[1].tobytes()
    assert not png_damaged(data) and not png_damaged(data + b"trailing bytes after IEND")
    assert not png_damaged(_jpeg()) and not png_damaged(b"")
    for fraction in np.linspace(0.05, 0.999, 25):
        assert png_damaged(data[: int(len(data) * fraction)]), fraction
    flipped = bytearray(data)
    flipped[data.find(b"IDAT") + 100] ^= 0x01
    assert png_damaged(bytes(flipped))
    # an ancillary chunk's bad CRC libpng only warns about, and decodes the image (review)
    text = b"tEXtComment\x00hello"
    after_ihdr = 8 + 25  # the signature, then IHDR: length, type, 13 bytes, CRC
    wrong_crc = data[:after_ihdr] + (len(text) - 4).to_bytes(4, "big") + text + b"\x00\x00\x00\x00" + data[after_ihdr:]
    assert not png_damaged(wrong_crc)
    assert cv2.imdecode(np.frombuffer(wrong_crc, np.uint8), cv2.IMREAD_COLOR).shape == IMAGE.shape


def test_a_damaged_png_in_a_folder_is_skipped_without_libpngs_line(tmp_path: Path,
                                                                   capfd: pytest.CaptureFixture) -> None:  # fmt: skip
    whole = cv2.imencode(".png", IMAGE)[1].tobytes()
    flipped = bytearray(whole)
    flipped[whole.find(b"IDAT") + 100] ^= 0x01
    for name, data in (("000", whole), ("001", whole[: len(whole) // 2]), ("002", bytes(flipped)), ("003", whole)):
        (tmp_path / f"{name}.png").write_bytes(data)
    with ImageFolderSource(tmp_path) as source:
        ids = [frame.frame_id for frame in iter(source.read, None)]
        skipped = source.skipped_images
    assert ids == [0, 3] and skipped == 2
    assert "libpng" not in capfd.readouterr().err
