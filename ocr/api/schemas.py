"""Request and response models (they generate the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from ocr.decoding import DECODERS
from ocr.engines.registry import BUILTIN

__all__ = [
    "BatchJsonRequest", "BatchResponse", "CharOut", "EngineOut", "EnginesResponse", "ErrorBody",
    "ErrorResponse", "HealthResponse", "Hypothesis", "OcrJsonRequest", "OcrOptions", "OcrResponse",
    "OcrResult", "multipart_schema",
]

# the built-in engines, or a model fine-tuned here (user:NAME, listed by GET /api/v1/engines as soon as it
# is finished; an unknown one is answered 422 unknown_engine by the registry)
EngineName = Literal[tuple(BUILTIN)] | Annotated[  # type: ignore[valid-type]
    str, StringConstraints(pattern=r"^user:[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]
DecoderName = Literal[DECODERS]  # type: ignore[valid-type]


class OcrOptions(BaseModel):
    """Recognition options, the same for JSON and multipart requests (form fields there)."""

    model_config = ConfigDict(extra="forbid")

    engine: EngineName | None = Field(None, description="engine name (GET /api/v1/engines); "
                                                        "default: the server's default engine")
    decoder: DecoderName = Field("greedy", description="CTC decoder")
    lm: bool = Field(False, description="beam search with the character n-gram LM (same as decoder=beam_lm)")
    beam_width: int = Field(10, ge=1, le=64, description="beam width (beam, beam_lm)")
    nbest: int = Field(0, ge=0, le=10, description="return up to this many hypotheses (0: none)")
    chars: bool = Field(True, description="return per-character confidences and frame spans")
    lm_weight: float | None = Field(None, ge=0.0, le=5.0, description="LM weight alpha (beam_lm)")
    length_bonus: float | None = Field(None, ge=-5.0, le=5.0, description="length bonus beta (beam_lm)")

    def options(self) -> OcrOptions:
        """Only the option fields (drops the image fields of subclasses)."""
        return OcrOptions.model_validate(self.model_dump(include=set(OcrOptions.model_fields)))


class OcrJsonRequest(OcrOptions):
    """One image as base64 (`image`) or, where the server allows it, a URL (`image_url`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "oneOf": [{"required": ["image"]}, {"required": ["image_url"]}]})

    image: str | SkipJsonSchema[None] = Field(None, description="base64-encoded PNG/JPEG/BMP/WebP/TIFF/GIF "
                                                                "(a data: URL prefix is accepted)")
    image_url: str | SkipJsonSchema[None] = Field(
        None, max_length=2048, description="http(s) URL of the image; only if the server enables it")

    @model_validator(mode="after")
    def _one_source(self) -> OcrJsonRequest:
        if (self.image is None) == (self.image_url is None):
            raise ValueError("give exactly one of `image` and `image_url`")
        return self


class BatchJsonRequest(OcrOptions):
    """Several base64 images, recognized with one batched model call."""

    images: list[str] = Field(..., min_length=1, description="base64-encoded images (the server caps "
                                                             "the count: see max_batch in GET /healthz)")


class CharOut(BaseModel):
    char: str
    confidence: float = Field(..., ge=0.0, le=1.0)
    start: int = Field(..., description="first frame of the character in the CTC matrix")
    end: int = Field(..., description="frame after the last one")


class Hypothesis(BaseModel):
    text: str
    score: float = Field(..., description="log score (fused with the LM for beam_lm)")


class OcrResult(BaseModel):
    text: str
    chars: list[CharOut]
    nbest: list[Hypothesis] | None = Field(None, description="present when nbest > 0 was asked")
    engine: str
    decoder: str = Field(..., description=f"{', '.join(DECODERS)}, or text for text-only engines")
    elapsed_time: float = Field(..., description="server time for this request in milliseconds")


class _Success(BaseModel):
    status: Literal["success"] = "success"


class OcrResponse(OcrResult, _Success):  # bases in this order put `status` first in the JSON
    pass


class BatchResponse(BaseModel):
    status: Literal["success"] = "success"
    results: list[OcrResult]
    engine: str
    decoder: str
    elapsed_time: float = Field(..., description="server time for the whole batch in milliseconds")


class EngineOut(BaseModel):
    name: str
    title: str
    available: bool
    reason: str
    ctc: bool
    summary: str


class EnginesResponse(BaseModel):
    status: Literal["success"] = "success"
    default: str | None
    engines: list[EngineOut]


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    max_batch: int
    max_body_bytes: int
    image_url: bool


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    status: Literal["error"] = "error"
    error: ErrorBody


def multipart_schema(file_field: str, many: bool) -> dict[str, Any]:
    """The multipart/form-data schema: the image file(s) plus the option fields."""
    props: dict[str, Any] = dict(OcrOptions.model_json_schema()["properties"])
    binary = {"type": "string", "format": "binary"}
    if many:
        props[file_field] = {"type": "array", "items": binary, "minItems": 1}
        required = [file_field]
    else:
        props[file_field] = binary | {"description": "the image file"}
        props["image_url"] = {"type": "string", "maxLength": 2048,
                              "description": "instead of a file; only if the server enables it"}
        required = []
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}
