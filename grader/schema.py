"""What every file an instructor writes is checked with: closed, frozen records and the shapes of
identifiers and phrases, so a misspelt field is an error naming it, never silently ignored."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64)]
Phrase = Annotated[str, Field(min_length=1, max_length=300)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
