"""ocr: a Chinese text-line recognition library (preprocess -> engine -> CTC decoder).

Importable without Streamlit. Data flow:
image (H, W, 3) uint8 RGB -> preprocess stages -> tensor (C, H', W') float32 -> engine ->
log-probabilities (T, C) -> decoder -> Decoded.
"""

__version__ = "0.1.0"
