"""Recognition engines: one module per engine, each with `check(name)` and `load(name)`.

The registry (ocr.engines.registry) imports them lazily; importing this package loads no model.
"""
