"""The lab catalog: every ``labs/NN-slug/lab.yaml``, validated into typed objects.

Why data beside the prose: the README tells a person what to type and what to expect; the
``lab.yaml`` holds the same commands as data so `make lab-NN` can run them and check the
outcomes. A unit test holds the two together (each step's ``run`` appears verbatim in the
README), so the text and what CI runs cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dojo.settings import REPO_ROOT

LABS_DIR = REPO_ROOT / "labs"
LAB_FILE = "lab.yaml"
Need = Literal["stack", "docker", "cluster"]
_ID = re.compile(r"^\d{1,2}$")


class CatalogError(ValueError):
    """A lab file is missing or invalid; the message names the file and the field."""


class HttpExpect(BaseModel):
    """An HTTP GET that must answer with this status (the url may use ``${DOJO_…}``)."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1)
    status: int = Field(200, ge=100, le=599)


class Expect(BaseModel):
    """What must hold after a step ran; every given field is checked."""

    model_config = ConfigDict(extra="forbid")
    exit: int = Field(0, ge=0, le=255, description="Exit status of the command.")
    output: str | None = Field(None, description="Regex that must match stdout+stderr.")
    not_output: str | None = Field(None, description="Regex that must NOT match.")
    http: HttpExpect | None = None
    within: float | None = Field(
        None, gt=0, le=600, description="Poll the step until the expectations hold, up to N s."
    )

    @field_validator("output", "not_output")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regex ({error})") from None
        return value


class Step(BaseModel):
    """One command of a lab, run with ``bash -euo pipefail`` from the repository root."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    run: str = Field(min_length=1)
    shows: str | None = Field(None, description="One line: what this step demonstrates.")
    timeout: float = Field(120.0, gt=0, le=3600, description="Kill one attempt after N s.")
    expect: Expect = Field(default_factory=Expect)


class Lab(BaseModel):
    """A lab: header fields plus its steps (a planned lab has none yet)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    title: str = Field(min_length=1)
    needs: list[Need] = Field(default_factory=list)
    status: Literal["ready", "planned"] = "planned"
    steps: list[Step] = Field(default_factory=list)
    path: Path = Field(Path(), exclude=True, description="The lab's folder (set by the loader).")

    @field_validator("id", mode="before")
    @classmethod
    def _two_digits(cls, value: object) -> str:
        text = str(value).strip()
        if not _ID.match(text):
            raise ValueError(f"expected a lab number like '01', got {value!r}")
        return text.zfill(2)

    @property
    def readme(self) -> Path:
        return self.path / "README.md"

    @property
    def ready(self) -> bool:
        return self.status == "ready"


def normalise_id(value: str) -> str:
    """Accept ``1``, ``01`` or ``lab-01`` from a person; return ``01``."""
    text = value.strip().lower().removeprefix("lab-").removeprefix("lab")
    if not _ID.match(text):
        raise CatalogError(f"not a lab number: {value!r} (expected e.g. 01)")
    return text.zfill(2)


def load_lab(folder: Path) -> Lab:
    """Load and validate one ``lab.yaml``; errors name the file and the field at fault."""
    file = folder / LAB_FILE
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise CatalogError(f"{file}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise CatalogError(f"{file}: not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise CatalogError(f"{file}: expected a mapping with id, title, needs, status, steps")
    try:
        lab = Lab.model_validate({**raw, "path": folder})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CatalogError(f"{file}: {where}: {first['msg']}") from None
    if lab.ready and not lab.steps:
        raise CatalogError(f"{file}: status is ready but there are no steps")
    if not folder.name.startswith(f"{lab.id}-"):
        raise CatalogError(f"{file}: id {lab.id} does not match the folder name {folder.name}")
    return lab


def load_catalog(labs_dir: Path = LABS_DIR) -> list[Lab]:
    """Every lab under ``labs_dir``, in order; duplicate ids are an error."""
    labs: dict[str, Lab] = {}
    for file in sorted(labs_dir.glob(f"[0-9][0-9]-*/{LAB_FILE}")):
        lab = load_lab(file.parent)
        if lab.id in labs:
            raise CatalogError(f"lab {lab.id} is defined twice: {labs[lab.id].path} and {file}")
        labs[lab.id] = lab
    return [labs[key] for key in sorted(labs)]


def find_lab(lab_id: str, labs_dir: Path = LABS_DIR) -> Lab:
    """The lab with this number, or a CatalogError listing the numbers that exist."""
    wanted = normalise_id(lab_id)
    folders = sorted(file.parent for file in labs_dir.glob(f"{wanted}-*/{LAB_FILE}"))
    if len(folders) > 1:
        raise CatalogError(f"lab {wanted} is defined twice: {folders[0]} and {folders[1]}")
    if folders:
        return load_lab(folders[0])
    known = sorted({file.parent.name[:2] for file in labs_dir.glob(f"[0-9][0-9]-*/{LAB_FILE}")})
    raise CatalogError(f"no lab {wanted} under {labs_dir} (labs: {', '.join(known) or 'none'})")
