"""Packaging: the wheel's package data, the icon set, the Linux desktop entry and metainfo,
and the ``gui --smoke-test`` option that packaging/build_bundle.sh runs in the bundle.

The PyInstaller bundle itself is built and checked by packaging/build_bundle.sh, not here:
a build takes minutes and writes about 1 GB.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
LINUX_DIR = REPO / "packaging" / "linux"
DESKTOP_FILE = LINUX_DIR / "io.github.quantviz.desktop"
METAINFO_FILE = LINUX_DIR / "io.github.quantviz.metainfo.xml"
RESOURCES = REPO / "quantviz" / "resources"
HICOLOR = RESOURCES / "icons" / "hicolor"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
CJK = re.compile(r"[\u4e00-\u9fff]")


def load_render_icons() -> ModuleType:
    """Import packaging/render_icons.py, which is a script outside any package."""
    spec = importlib.util.spec_from_file_location(
        "render_icons", REPO / "packaging" / "render_icons.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_icons = load_render_icons()


def pyproject() -> dict:
    with (REPO / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


# -- wheel ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel_path(tmp_path_factory) -> Path:
    """Build a wheel from a copy of the sources and return its path.

    The copy keeps pip's in-tree build folders (build/, *.egg-info) out of the checkout.
    """
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(
        REPO / "quantviz", source / "quantviz", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(out.glob("quantviz-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel_names(wheel_path) -> set[str]:
    with zipfile.ZipFile(wheel_path) as archive:
        return set(archive.namelist())


def test_wheel_has_calibration_text(wheel_names):
    assert "quantviz/resources/text/calibration_en.txt" in wheel_names
    assert "quantviz/resources/text/heldout_en.txt" in wheel_names


def test_wheel_has_icons(wheel_names):
    assert "quantviz/resources/icons/quantviz.svg" in wheel_names
    for size in ICON_SIZES:
        assert f"quantviz/resources/icons/hicolor/{size}x{size}/apps/quantviz.png" in wheel_names


def test_wheel_has_translations(wheel_names):
    sources = sorted((RESOURCES / "translations").glob("*.ts"))
    assert sources, "no .ts translation sources in the checkout"
    compiled = sorted((RESOURCES / "translations").glob("*.qm"))
    for path in sources + compiled:
        assert f"quantviz/resources/translations/{path.name}" in wheel_names


def test_wheel_has_every_resource_file(wheel_names):
    missing = [
        path.relative_to(REPO).as_posix()
        for path in sorted(RESOURCES.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.relative_to(REPO).as_posix() not in wheel_names
    ]
    assert missing == []


def test_wheel_declares_console_script(wheel_path, wheel_names):
    entry_points = [name for name in wheel_names if name.endswith(".dist-info/entry_points.txt")]
    assert len(entry_points) == 1, entry_points
    with zipfile.ZipFile(wheel_path) as archive:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(archive.read(entry_points[0]).decode())
    assert parser["console_scripts"]["quantviz"] == "quantviz.cli:main"


# -- icons ------------------------------------------------------------------------------


def png_header(path: Path) -> tuple[int, int, int, int]:
    """Return (width, height, bit depth, colour type) from a PNG's IHDR chunk."""
    data = path.read_bytes()[:33]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    assert data[12:16] == b"IHDR", f"{path} has no IHDR chunk first"
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour_type


@pytest.mark.parametrize("size", ICON_SIZES)
def test_icon_png_size(size):
    path = HICOLOR / f"{size}x{size}" / "apps" / "quantviz.png"
    assert path.is_file(), f"missing {path}; run packaging/render_icons.py"
    width, height, depth, colour_type = png_header(path)
    assert (width, height) == (size, size)
    assert depth == 8
    assert colour_type == 6, "expected RGBA (colour type 6) for a transparent background"


@pytest.mark.parametrize("size", (16, 256))
def test_icon_png_matches_svg(qapp, tmp_path, size):
    from PySide6.QtGui import QImage

    fresh = render_icons.render_icons(render_icons.DEFAULT_SVG, tmp_path, (size,))[0]
    committed = HICOLOR / f"{size}x{size}" / "apps" / "quantviz.png"
    fmt = QImage.Format.Format_ARGB32
    expected = QImage(str(fresh)).convertToFormat(fmt)
    actual = QImage(str(committed)).convertToFormat(fmt)
    assert not actual.isNull()
    assert actual == expected, "the PNGs are stale; rerun packaging/render_icons.py"
    # The corner is transparent and the center is drawn.
    assert actual.pixelColor(0, 0).alpha() == 0
    assert actual.pixelColor(size // 2, size // 2).alpha() == 255


def test_render_icons_rejects_invalid_svg(qapp, tmp_path):
    broken = tmp_path / "broken.svg"
    broken.write_text("<svg")
    with pytest.raises(ValueError, match="not a valid SVG"):
        render_icons.render_icons(broken, tmp_path / "out", (16,))


# -- desktop entry ----------------------------------------------------------------------


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP_FILE, encoding="utf-8")
    assert parser.sections() == ["Desktop Entry"]
    return parser["Desktop Entry"]


def test_desktop_entry_keys():
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "quantviz"
    assert entry["GenericName"]
    assert "FP8" in entry["Comment"]
    assert entry["Categories"] == "Development;Science;"
    assert entry["Terminal"] == "false"
    assert "MimeType" not in entry


def test_desktop_entry_chinese():
    entry = desktop_entry()
    assert entry["Name[zh_CN]"]
    assert CJK.search(entry["Comment[zh_CN]"]), entry["Comment[zh_CN]"]
    assert CJK.search(entry["GenericName[zh_CN]"]), entry["GenericName[zh_CN]"]


def test_desktop_entry_exec_and_icon():
    entry = desktop_entry()
    command = entry["Exec"].split()
    assert command[0] in pyproject()["project"]["scripts"]
    assert command[1] == "gui"
    assert entry["Icon"] == "quantviz"
    assert (HICOLOR / "256x256" / "apps" / f"{entry['Icon']}.png").is_file()


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="desktop-file-validate is not installed (apt-get install desktop-file-utils)",
)
def test_desktop_entry_validates():
    result = subprocess.run(
        ["desktop-file-validate", str(DESKTOP_FILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error:" not in result.stdout + result.stderr


# -- AppStream metainfo -----------------------------------------------------------------


def metainfo() -> ElementTree.Element:
    return ElementTree.parse(METAINFO_FILE).getroot()


def test_metainfo_identity():
    root = metainfo()
    assert root.tag == "component"
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == "io.github.quantviz"
    assert root.findtext("name") == "quantviz"
    assert root.findtext("summary")
    assert root.find("description/p") is not None


def test_metainfo_licenses():
    root = metainfo()
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == pyproject()["project"]["license"]


def test_metainfo_launchable():
    launchable = metainfo().find("launchable")
    assert launchable is not None
    assert launchable.get("type") == "desktop-id"
    assert launchable.text == DESKTOP_FILE.name


def test_metainfo_screenshot():
    image = metainfo().find("screenshots/screenshot/image")
    assert image is not None
    assert image.text.startswith("https://")
    relative = "docs/screenshots/main_window.png"
    assert image.text.endswith(relative)
    assert (REPO / relative).is_file()


def test_metainfo_release():
    releases = metainfo().findall("releases/release")
    assert [release.get("version") for release in releases] == [pyproject()["project"]["version"]]
    assert releases[0].get("date") == "2026-12-04"


def test_metainfo_content_rating():
    rating = metainfo().find("content_rating")
    assert rating is not None
    assert rating.get("type") == "oars-1.1"


@pytest.mark.skipif(
    shutil.which("appstreamcli") is None,
    reason="appstreamcli is not installed (apt-get install appstream)",
)
def test_metainfo_validates():
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(METAINFO_FILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- gui --smoke-test -------------------------------------------------------------------


def run_smoke_test(tmp_path: Path, model: str) -> subprocess.CompletedProcess:
    """Run ``quantviz gui MODEL --smoke-test`` offscreen with settings in ``tmp_path``."""
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HF_HUB_OFFLINE="1",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    return subprocess.run(
        [sys.executable, "-m", "quantviz", "gui", model, "--smoke-test"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )


@pytest.mark.gui
def test_smoke_test_fails_on_unknown_model(tmp_path):
    result = run_smoke_test(tmp_path, "sample:nope")
    assert result.returncode == 1, result.stderr
    assert "smoke test failed" in result.stderr
    assert "unknown sample model" in result.stderr


@pytest.mark.gui
@pytest.mark.slow
def test_smoke_test_passes_on_minilm(tmp_path):
    result = run_smoke_test(tmp_path, "sample:minilm")
    assert result.returncode == 0, result.stderr
    assert "smoke test failed" not in result.stderr
