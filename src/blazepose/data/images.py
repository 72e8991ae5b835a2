"""Reading images robustly: any mode Pillow reads (grayscale, palette, RGBA, CMYK, 16-bit), EXIF rotation.

Every image comes back as (H, W, 3) uint8 RGB, turned the way its EXIF orientation says it is displayed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from blazepose.errors import BlazePoseError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Images with a side under MIN_SIDE pixels cannot show a person; those over Pillow's decompression-bomb limit
# (Image.MAX_IMAGE_PIXELS, about 89 megapixels) are refused before they are decoded.
MIN_SIDE = 8


def _too_large(path: Path) -> BlazePoseError:
    limit = Image.MAX_IMAGE_PIXELS / 1e6
    return BlazePoseError(f"image {path} is larger than the {limit:.0f} megapixels Pillow decodes; scale it down first")


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        # High bit-depth grayscale: 16-bit values (or 32-bit ones above 255) are scaled by 255/65535.
        arr = np.asarray(img, dtype=np.float64)
        if img.mode.startswith("I;16") or arr.max(initial=0) > 255:
            arr = arr / 257.0
        elif img.mode == "F" and arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        arr8 = np.clip(arr + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr8, "L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        # Composite transparent pixels onto mid grey rather than black.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(path: str | Path, min_scale: float = 1.0) -> tuple[np.ndarray, tuple[float, float]]:
    """Decode `path` to RGB uint8 (H, W, 3), EXIF orientation applied.

    With `min_scale` < 1, a JPEG may be decoded at 1/2, 1/4 or 1/8 of its size (DCT scaling, much faster)
    as long as it keeps at least `min_scale` of its full size. Returns the image and the (sx, sy) factors
    from full-size pixels to returned pixels (1.0 unless reduced).
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            full_w, full_h = img.size
            if min_scale < 1.0 and img.format == "JPEG":
                img.draft("RGB", (math.ceil(full_w * min_scale), math.ceil(full_h * min_scale)))
            img.load()
            w, h = img.size
            transposed = ImageOps.exif_transpose(img)
            rgb = _to_rgb(transposed if transposed is not None else img)
            arr = np.asarray(rgb, dtype=np.uint8)
    except FileNotFoundError:
        raise BlazePoseError(f"image {path} does not exist") from None
    except Image.DecompressionBombError:
        raise _too_large(path) from None
    except UnidentifiedImageError:
        raise BlazePoseError(f"image {path} is not an image file Pillow can read (expected JPEG, PNG, ...)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise BlazePoseError(f"image {path} cannot be decoded (corrupt or truncated?): {exc}") from None
    scale = (w / full_w, h / full_h)
    if arr.shape[0] != h:  # EXIF turned it by 90 degrees: the factors swap with the axes
        scale = (scale[1], scale[0])
    return arr, scale


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) as displayed (EXIF orientation applied), from the header only."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = img.getexif().get(0x0112, 1)
    except FileNotFoundError:
        raise BlazePoseError(f"image {path} does not exist") from None
    except Image.DecompressionBombError:
        raise _too_large(path) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise BlazePoseError(f"image {path} cannot be read: {exc}") from None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def list_images(paths: list[str | Path]) -> list[Path]:
    """Image files named directly or found (sorted, not recursively) in the given folders."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES and q.is_file())
        elif p.exists():
            found.append(p)
        else:
            raise BlazePoseError(f"{p} does not exist")
    return found
