"""A list entry validated by the settings model its ``type`` key names.

``dengar.yaml`` picks a channel's or a sink's model by its ``type``. A
pydantic discriminated union over every model would build all of them at
each start of every command (about a third of ``dengar status``'s start-up,
bench/cli.py); :class:`ByType` builds a model only when an entry of its
type is validated. Validation and the errors are those of the union: the
entry's own model checks it, and an unknown type is pydantic's
``union_tag_invalid``, which the loader turns into "did you mean" (a missing
``type`` is ``union_tag_not_found``, listing the known ones). The JSON
Schema is the union's, with its discriminator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, GetJsonSchemaHandler, TypeAdapter
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, PydanticKnownError, core_schema

from contracts.registry import resolve


class ByType:
    """Pydantic metadata: validate with the model ``models[entry["type"]]``
    (``"module:Class"``, imported and built on first use)."""

    def __init__(self, what: str, models: Mapping[str, str]) -> None:
        self.what = what
        # in the order the error message lists them
        self.models = dict(models)

    def model(self, type_name: str) -> type[BaseModel]:
        """The settings model of ``type_name`` (KeyError-like UnknownType
        when there is none)."""
        return resolve(self.models, type_name, self.what)

    def validate(self, value: Any) -> BaseModel:
        """``value`` validated by the model its ``type`` names."""
        if isinstance(value, BaseModel):
            tag = getattr(value, "type", None)
        elif isinstance(value, dict):
            if "type" not in value:
                raise PydanticCustomError(
                    "union_tag_not_found",
                    "Unable to extract tag using discriminator {discriminator}",
                    {"discriminator": "'type'", "expected_tags": self._known()},
                )
            tag = value["type"]
        else:
            raise PydanticKnownError("model_attributes_type")
        if not isinstance(tag, str) or tag not in self.models:
            raise PydanticCustomError(
                "union_tag_invalid",
                "Input tag '{tag}' found using {discriminator} does not match "
                "any of the expected tags: {expected_tags}",
                {
                    "tag": str(tag),
                    "discriminator": "'type'",
                    "expected_tags": self._known(),
                },
            )
        # a ValidationError raised here keeps its paths under this entry's
        return self.model(tag).model_validate(value)

    def _known(self) -> str:
        return ", ".join(f"'{name}'" for name in self.models)

    def __get_pydantic_core_schema__(
        self, source_type: Any, handler: Any
    ) -> core_schema.CoreSchema:
        # the annotated union is for type checkers only: not built here
        return core_schema.no_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # the union's own schema, as the documentation and editors know it
        models = tuple(self.model(name) for name in self.models)
        union: Any = Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007 - a runtime tuple
        return handler(TypeAdapter(union).core_schema)
