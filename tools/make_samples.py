"""Render the sample line images in sample_images/ (deterministic) and write sample_images/labels.tsv.

The real lines in sample_images/real/ (Apache-2.0, see real/LICENSE.md) are listed first; the rendered
cases cover what users ask about: amounts in 大写, ID-card and invoice fields, mixed scripts, a long line,
a degraded line, and lines where context decides a character. Run: python tools/make_samples.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ocr.training.synth import font_by_name, render_line

OUT = Path(__file__).resolve().parents[1] / "sample_images"
REAL = Path(__file__).resolve().parents[2] / "shared" / "real_samples"



def degrade(
    gray: np.ndarray, blur: float, contrast: float, light: float, noise: float, seed: int
) -> np.ndarray:
    """Explicit, visible degradations: Gaussian blur, squeezed contrast, a left-to-right light gradient
    (uneven illumination) and Gaussian noise. (H, W) uint8 -> (H, W) uint8."""
    rng = np.random.default_rng(seed)
    x = gray.astype(np.float32)
    if blur > 0:
        x = cv2.GaussianBlur(x, (0, 0), blur)
    x = 128 + (x - 128) * contrast
    ramp = np.linspace(1.0 - light, 1.0, x.shape[1], dtype=np.float32)[None, :]
    x = x * ramp + rng.normal(0, noise, x.shape)
    return np.clip(x, 0, 255).astype(np.uint8)


# (file name, text, font, augment seed or None for a clean render)
CASES: tuple[tuple[str, str, str, int | None], ...] = (
    ("amount_daxie.png", "壹万贰仟叁佰肆拾伍元整", "noto-serif-sc", None),
    ("invoice_title.png", "增值税专用发票", "noto-serif-sc-bold", None),
    ("invoice_code.png", "发票代码：144031900111  开票日期：2024年03月15日", "noto-sans-sc", None),
    ("invoice_total.png", "价税合计（大写）⊗壹万贰仟叁佰肆拾伍元整（小写）¥12345.00", "noto-sans-sc", None),
    ("id_name.png", "姓名 张晓明  性别 男  民族 汉", "noto-sans-sc", None),
    ("id_number.png", "公民身份号码 11010519491231002X", "noto-sans-sc", None),
    ("mixed_script.png", "iPhone 15 Pro 售价7999元，支持5G和Wi-Fi 7", "wqy-microhei", None),
    ("long_line.png", "在媒介越来越多的情形下，意味着传播方式的变化：过去主流的是大众传播，"
     "现在互动性和定制性带来了新的挑战，如何让品牌与消费者更加互动成为关键。", "noto-serif-sc", None),
    ("noisy_uneven.png", "收款人：李华 开户银行：中国工商银行北京分行", "ukai-cn", None),
    ("blurred_low_contrast.png", "合同编号 HT-2024-0815 签订地点 上海市", "wqy-zenhei", None),
    ("context_weilai.png", "我们的未来在于创新", "ukai-cn", 5),
    ("context_dami.png", "今年的大米价格上涨了百分之三", "uming-cn", 8),
)


def main() -> None:
    rows: list[str] = []
    for sub in ("cnocr_multiline", "paddleocr_words_ch"):
        for line in (REAL / sub / "labels.tsv").read_text(encoding="utf-8").splitlines():
            key, text = line.split("\t", 1)
            rows.append(f"real/{Path(key).name}\t{text}\n")
    (OUT / "rendered").mkdir(parents=True, exist_ok=True)
    for name, text, font, seed in CASES:
        img = render_line(text, font_by_name(font), height=48, seed=seed or 0, augment=seed is not None)
        if name == "noisy_uneven.png":
            img = degrade(img, blur=0.0, contrast=0.8, light=0.65, noise=22.0, seed=1)
        elif name == "blurred_low_contrast.png":
            img = degrade(img, blur=1.3, contrast=0.35, light=0.15, noise=4.0, seed=2)
        Image.fromarray(img).convert("RGB").save(OUT / "rendered" / name)
        rows.append(f"rendered/{name}\t{text}\n")
    (OUT / "labels.tsv").write_text("".join(rows), encoding="utf-8")


if __name__ == "__main__":
    main()
