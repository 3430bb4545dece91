"""Exceptions the library raises. Callers (CLI, app, API) turn them into messages."""


class OCRError(Exception):
    """Base class for every error the library raises on purpose."""


class ImageError(OCRError):
    """An image could not be read, or is refused (corrupt, empty, too large)."""


class DatasetError(OCRError):
    """A labelled set could not be read, or is refused (bad archive, bad labels file)."""


class EngineUnavailable(OCRError):
    """An engine cannot be loaded here (package or model file missing); the message says why."""


class MissingFont(OCRError):
    """A face a renderer needs is not installed here; the message names the package that holds it."""


class UnknownEngine(OCRError):
    """No engine of that name is registered."""
