"""The installable web apps' manifests: the icons they name ship with the build.

Browsers that install a PWA want PNG icons of 192 and 512 pixels and a maskable
one (Android crops it to its own shape); the SVG alone is not enough for all of them.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from peek.services.webapps import WEBAPPS_DIR

PWA_APPS = ["desktop", "mobile"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def manifest(app: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEBAPPS_DIR / app / "manifest.webmanifest").read_text())
    return data


def png_icons(app: str) -> list[dict[str, str]]:
    return [icon for icon in manifest(app)["icons"] if icon["type"] == "image/png"]


def png_size(body: bytes) -> str:
    """``WxH`` from a PNG's header (its first chunk is IHDR: width, height)."""
    assert body[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", body[16:24])
    return f"{width}x{height}"


@pytest.mark.parametrize("app", PWA_APPS)
def test_a_manifest_offers_png_icons_of_192_and_512_and_a_maskable_one(app: str) -> None:
    offered = {(icon["sizes"], icon["purpose"]) for icon in png_icons(app)}
    assert {("192x192", "any"), ("512x512", "any")} <= offered
    assert any(purpose == "maskable" for _, purpose in offered)


@pytest.mark.parametrize("app", PWA_APPS)
def test_every_png_icon_of_a_manifest_is_built_at_its_declared_size(app: str) -> None:
    scope = manifest(app)["scope"]
    for icon in png_icons(app):
        assert icon["src"].startswith(scope)
        built = WEBAPPS_DIR / app / icon["src"].removeprefix(scope)
        assert png_size(built.read_bytes()) == icon["sizes"], icon["src"]
