import numpy as np
import pytest
from PIL import Image

from blazepose.data.images import image_size, list_images, load_image
from blazepose.errors import BlazePoseError


def _pattern(w=40, h=30):
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = (200, 30, 10)
    return img


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "LA"])
def test_modes_become_rgb(tmp_path, mode):
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    Image.fromarray(_pattern()).convert(mode).save(path)
    arr, scale = load_image(path)
    assert arr.shape == (30, 40, 3) and arr.dtype == np.uint8 and scale == (1.0, 1.0)


def test_16_bit_png_scaled_to_8_bit(tmp_path):
    path = tmp_path / "deep.png"
    values = np.full((10, 12), 65535, np.uint16)
    values[:, :6] = 257 * 100
    Image.fromarray(values).save(path)
    arr, _ = load_image(path)
    assert arr.shape == (10, 12, 3)
    assert arr[0, 0, 0] == 100 and arr[0, 11, 0] == 255


def test_exif_rotation_is_applied(tmp_path):
    path = tmp_path / "rot.jpg"
    img = Image.fromarray(_pattern(40, 30))
    exif = img.getexif()
    exif[0x0112] = 6  # displayed turned 90 degrees clockwise
    img.save(path, exif=exif.tobytes())
    arr, _ = load_image(path)
    assert arr.shape == (40, 30, 3)  # width and height swap
    assert image_size(path) == (30, 40)
    # The left half (red) of the stored image is the top half once turned clockwise.
    assert arr[5, 15, 0] > 150 and arr[35, 15, 0] < 50


def test_corrupt_missing_and_non_images(tmp_path):
    good = tmp_path / "good.jpg"
    Image.fromarray(_pattern(200, 200)).save(good)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:300])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    for path, words in [(truncated, "cannot be decoded"), (text, "not an image"), (tmp_path / "no.jpg", "not exist")]:
        with pytest.raises(BlazePoseError, match=words) as err:
            load_image(path)
        assert str(path) in str(err.value)


def test_reduced_jpeg_decode_reports_its_scale(tmp_path):
    path = tmp_path / "big.jpg"
    Image.fromarray(np.zeros((800, 1000, 3), np.uint8)).save(path)
    arr, (sx, sy) = load_image(path, min_scale=0.3)
    assert arr.shape == (400, 500, 3) and (sx, sy) == (0.5, 0.5)  # 1/2 keeps >= 0.3, 1/4 would not


def test_list_images(tmp_path):
    (tmp_path / "b.jpg").write_bytes(b"")
    (tmp_path / "a.PNG").write_bytes(b"")
    (tmp_path / "c.txt").write_text("")
    assert [p.name for p in list_images([tmp_path])] == ["a.PNG", "b.jpg"]
    with pytest.raises(BlazePoseError):
        list_images([tmp_path / "missing"])


def test_huge_and_tiny_images_get_a_clear_message(tmp_path, capsys):
    """A 20000 x 20000 PNG header (400 megapixels, a few hundred bytes on disk) is refused before decoding;
    a 1x1 image cannot show a person. Alone each is an error; beside a good image, a skipped warning."""
    import struct
    import zlib

    from blazepose.cli import main
    from blazepose.data.images import load_image
    from blazepose.errors import BlazePoseError

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    huge = tmp_path / "huge.png"
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    huge.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    with pytest.raises(BlazePoseError, match="larger than the 89 megapixels"):
        load_image(huge)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    for path, words in ((huge, "megapixels"), (tiny, "1x1 pixels: too small")):
        assert main(["predict", str(path), "--detector", "none", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and "Traceback" not in err
