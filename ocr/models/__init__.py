"""Models (torch): the CRNN architecture and its presets, checkpoint I/O, the ddddocr weight port and
the ONNX export the engines run.

- crnn.py        CRNN: (B, 1, H, W) -> logits (B, T, C); CRNNConfig presets (ARCHS)
- crnn_config.py CRNNConfig and output_length without torch
- checkpoint.py  save_export / load_checkpoint (what engines load), save_state / load_state (runs)
- port.py        ddddocr common.onnx -> CRNN; slice_classes / extend_classes (head surgery)
- onnx_export.py CRNN -> in-memory ONNX graph for onnxruntime
- onnx_file.py   the shipped .onnx file: fp16 storage, metadata inside (write_onnx_file / session_meta)

Import the submodules (`from ocr.models.crnn import CRNN`): this package imports nothing itself, so the
inference side (crnn_config.py, onnx_file.py) loads without torch.
"""
