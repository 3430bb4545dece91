"""Render the guided-start example lines in examples/ (deterministic; run from the root:
python tools/make_examples.py). The app's examples (ui/examples.py) name these files and their texts.

- lm_amount.png: a 大写 amount in a kai face with augmentations (seed 24); PP-OCRv4 greedy reads 叁 as 参,
  beam + LM with the committed character LM restores 叁 (tests/test_examples.py checks it).
- handwriting_style.png: a line in LXGW WenKai, a handwriting-like kai face (rendered, not handwriting).
- traditional_scan.png: a traditional-character line in TW-Sung (CNS 11643) with scan-like blur, uneven
  light and noise.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ocr.training.synth import FontSpec, font_by_name, render_line

OUT = Path(__file__).resolve().parents[1] / "examples"
TW_SUNG = FontSpec("tw-sung", "/usr/share/fonts/truetype/cns11643/TW-Sung-98_1.ttf", 0, "song",
                   "fonts-cns11643-sung")

# file name -> (text, font, render seed, augment)
EXAMPLES = {
    "lm_amount.png": ("人民币叁仟伍佰元整", font_by_name("lxgw-wenkai"), 24, True),
    "handwriting_style.png": ("明天下午三点在图书馆门口见面", font_by_name("lxgw-wenkai"), 0, False),
    "traditional_scan.png": ("中華民國臺灣省政府公報第一百號", TW_SUNG, 0, False),
}


def scan_like(gray: np.ndarray, seed: int = 3) -> np.ndarray:
    """Blur, a light gradient and noise: an old scan. (H, W) uint8 -> (H, W) uint8."""
    rng = np.random.default_rng(seed)
    x = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 1.0)
    x = 150 + (x - 128) * 0.75
    x = x * np.linspace(0.85, 1.0, x.shape[1], dtype=np.float32)[None, :] + rng.normal(0, 6, x.shape)
    return np.clip(x, 0, 255).astype(np.uint8)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (text, font, seed, augment) in EXAMPLES.items():
        if not Path(font.path).is_file():
            raise SystemExit(f"font {font.path} is missing (Debian package {font.package})")
        gray = render_line(text, font, height=48, seed=seed, augment=augment)
        if name == "traditional_scan.png":
            gray = scan_like(gray)
        Image.fromarray(gray).save(OUT / name, optimize=True)
        print(OUT / name, gray.shape)


if __name__ == "__main__":
    main()
