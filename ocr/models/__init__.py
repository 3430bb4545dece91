"""Model definitions (torch): the CRNN and the ddddocr weight port."""

from ocr.models.crnn import COMPACT, CRNN, DDDDOCR, CRNNConfig

__all__ = ["COMPACT", "CRNN", "DDDDOCR", "CRNNConfig"]
