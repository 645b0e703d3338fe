"""Per-target converters behind one registry: `get_converter(name)` imports a target on demand."""

from stsm_edge.converters.base import (
    REGISTRY,
    TARGETS,
    Conversion,
    Converter,
    ConverterOptions,
    ExportJob,
    ExportResult,
    Int8Options,
    export_artifact,
    get_converter,
    register,
)

from stsm_edge.forms import FORMS

__all__ = ["FORMS", "REGISTRY", "TARGETS", "Conversion", "Converter", "ConverterOptions", "ExportJob", "ExportResult",
           "Int8Options", "export_artifact", "get_converter", "register"]
