"""``posecast assets list|fetch``: show and fill the download cache (see :mod:`posecast.engines.assets`)."""

from __future__ import annotations

import argparse
import sys

from ...engines import assets
from ...engines.errors import AssetError
from ...engines.fileio import file_sha256, input_file_problem, input_folder_problem

#: What ``posecast assets fetch`` gets without names: what posecast needs by default.
DEFAULT_FETCH = ("pose_landmarker_full",)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("assets", help="list or download the MediaPipe models")
    sub = parser.add_subparsers(dest="assets_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="the downloadable assets and whether they are cached")
    listing.set_defaults(func=_list)
    fetch = sub.add_parser("fetch", help="download assets into the cache")
    fetch.add_argument("names", nargs="*", metavar="NAME", help=f"assets to get (default: {' '.join(DEFAULT_FETCH)})")
    fetch.add_argument("--all", action="store_true", help="every asset in the table")
    fetch.set_defaults(func=_fetch)
    return parser


def _list(args: argparse.Namespace) -> int:
    cache = assets.cache_dir()
    if cache.exists() and not cache.is_dir():  # (QA: every asset was listed as missing, exit 0; a run failed)
        raise AssetError(f"the cache folder {cache} is a file, not a folder: set POSECAST_CACHE to a folder")
    if cache.exists() and (problem := input_folder_problem(cache)) is not None:  # (QA: a PermissionError traceback)
        raise AssetError(f"the cache folder {cache} {problem}; or set POSECAST_CACHE to a folder of your own")
    sys.stdout.write(f"cache: {cache}\n")
    for asset in assets.ASSETS.values():
        path = assets.cached_path(asset.name)
        if not path.is_file():
            state = "missing"
        elif input_file_problem(path) is not None:  # (a cache another user filled with umask 077)
            state = "unreadable"
        else:  # a damaged copy is fetched again by the next run or `assets fetch`
            state = "cached" if asset.sha256 is None or file_sha256(path) == asset.sha256 else "corrupt"
        size_mb = asset.size_bytes / 1e6
        sys.stdout.write(f"{asset.name:24s} {state:10s} {size_mb:6.1f} MB  {asset.license}  {asset.description}\n")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    if args.all and args.names:  # --all took every asset and the names were never looked at
        raise AssetError(f"pass asset names or --all, not both (got --all and {' '.join(args.names)})")
    names = list(assets.ASSETS) if args.all else (args.names or list(DEFAULT_FETCH))
    # unknown names (an empty one too: it was skipped, exit 0) fail before anything is downloaded
    names = [assets.get_asset(name).name for name in names]
    for name in names:
        sys.stdout.write(f"{name}: {assets.ensure_asset(name)}\n")
    return 0
