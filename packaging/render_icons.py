"""Render quantviz.svg to the PNG sizes of the freedesktop hicolor icon theme.

Usage: ``.venv/bin/python packaging/render_icons.py [--svg FILE] [--out DIR] [--sizes N ...]``

The PNGs land in ``DIR/<N>x<N>/apps/quantviz.png`` (default DIR:
``quantviz/resources/icons/hicolor``), so ``DIR`` can be copied into
``~/.local/share/icons/hicolor`` as it is. Qt's QSvgRenderer (PySide6) draws them with
antialiasing on a transparent background. Rerun the script after changing the SVG.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

REPO = Path(__file__).resolve().parent.parent
ICONS_DIR = REPO / "quantviz" / "resources" / "icons"
DEFAULT_SVG = ICONS_DIR / "quantviz.svg"
DEFAULT_OUT = ICONS_DIR / "hicolor"
SIZES = (16, 32, 48, 64, 128, 256, 512)
ICON_NAME = "quantviz"


def icon_path(out_dir: Path, size: int) -> Path:
    """Return where the hicolor theme expects the ``size`` px icon below ``out_dir``."""
    return out_dir / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"


def render_svg(svg: Path, size: int) -> QImage:
    """Render ``svg`` into a ``size`` x ``size`` ARGB image with a transparent background."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG file that Qt can render")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def render_icons(svg: Path, out_dir: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Write one PNG per size and return their paths."""
    from PySide6.QtGui import QGuiApplication

    # QPainter needs a QGuiApplication, and the offscreen platform needs no display.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    written = []
    for size in sizes:
        path = icon_path(out_dir, size)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not render_svg(svg, size).save(str(path), "PNG"):
            raise OSError(f"failed to write {path}")
        written.append(path)
    del app
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=DEFAULT_SVG, help="SVG file to render")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="hicolor folder to write into"
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(SIZES),
        help="icon sizes in pixels (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if not args.svg.is_file():
        parser.error(f"SVG file not found: {args.svg}")
    if any(size <= 0 for size in args.sizes):
        parser.error(f"icon sizes must be positive, got {args.sizes}")
    for path in render_icons(args.svg, args.out, tuple(args.sizes)):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
