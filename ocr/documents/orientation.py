"""Upside-down text: PP-OCR's 0°/180° text-line classifier, read from the rapidocr_onnxruntime wheel.

The classifier (`ch_ppocr_mobile_v2.0_cls_infer.onnx`, 0.6 MB) takes a line crop resized to 3 × 48 × 192
(BGR, (x/255 − 0.5)/0.5, right-padded with zeros; longer lines are squeezed to 192 px) and returns the
probabilities of the labels ("0", "180").

read_page uses it twice: a page whose lines are mostly upside down is turned 180° as a whole (boxes
mapped, reading order redone), and a single line the classifier calls upside down with high
probability is read both ways, keeping the reading with the higher mean confidence.

Example:
    clf = load_orientation()
    p = clf.upside_down([crop1, crop2])   # (2,) probabilities that each crop is rotated 180°
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from ocr.documents.geometry import TextBox, order_points
from ocr.errors import EngineUnavailable

__all__ = [
    "CLS_MODEL",
    "FLIP_LINE_P",
    "FLIP_PAGE_P",
    "LineOrientation",
    "flip_box",
    "load_orientation",
    "orientation_available",
]

# (package, file inside it): the 0/180 classifier that ships in the wheel we already install.
CLS_MODEL = ("rapidocr_onnxruntime", "models/ch_ppocr_mobile_v2.0_cls_infer.onnx")
FLIP_PAGE_P = 0.5  # a page is upside down when the median line probability of 180° is at least this
FLIP_LINE_P = 0.9  # a single line is read both ways when its probability of 180° is at least this
_H, _W = 48, 192


class LineOrientation:
    """The 0°/180° line classifier. Loaded once, thread-safe, never mutated after load."""

    def __init__(self, threads: int | None = None) -> None:
        from ocr.engines.onnx_ctc import make_session, package_file

        path, why = package_file(*CLS_MODEL)
        if path is None:
            raise EngineUnavailable(f"the 0/180 line classifier is unavailable: {why}")
        self.model_path = path
        self._session = make_session(path, threads)
        self._input = self._session.get_inputs()[0].name  # type: ignore[attr-defined]

    @staticmethod
    def tensor(crop: np.ndarray) -> np.ndarray:
        """(3, 48, 192) float32 input of one (h, w[, 3]) uint8 RGB crop."""
        rgb = crop if crop.ndim == 3 else np.repeat(crop[:, :, None], 3, axis=2)
        h, w = rgb.shape[:2]
        width = int(min(_W, max(1, np.ceil(_H * w / max(h, 1)))))
        small = cv2.resize(np.ascontiguousarray(rgb[:, :, ::-1]), (width, _H), interpolation=cv2.INTER_LINEAR)
        out = np.zeros((3, _H, _W), dtype=np.float32)
        out[:, :, :width] = (small.astype(np.float32).transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
        return out

    def upside_down(self, crops: list[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """(N,) probability that each crop shows its text rotated by 180°."""
        if not crops:
            return np.zeros(0, dtype=np.float32)
        out = []
        for i in range(0, len(crops), batch_size):
            x = np.stack([self.tensor(c) for c in crops[i:i + batch_size]])
            probs = self._session.run(None, {self._input: x})[0]  # type: ignore[attr-defined]
            out.append(np.asarray(probs, dtype=np.float32)[:, 1])
        return np.concatenate(out)


def flip_box(box: TextBox, width: int, height: int) -> TextBox:
    """The box on the page turned by 180° (a page of `width` × `height` px)."""
    pts = np.array([width - 1, height - 1], dtype=np.float32) - box.points.astype(np.float32)
    return TextBox(order_points(pts), box.score)


def orientation_available() -> tuple[bool, str]:
    """(True, "") if the classifier can load here, else (False, reason)."""
    from ocr.engines.onnx_ctc import package_file

    if package_file("onnxruntime", "__init__.py")[1]:
        return False, "onnxruntime is not installed"
    why = package_file(*CLS_MODEL)[1]
    return why is None, why or ""


_loaded: list[LineOrientation] = []
_lock = threading.Lock()


def load_orientation() -> LineOrientation:
    """The classifier, loaded once per process. Raises EngineUnavailable with the reason."""
    with _lock:
        if not _loaded:
            _loaded.append(LineOrientation())
        return _loaded[0]
