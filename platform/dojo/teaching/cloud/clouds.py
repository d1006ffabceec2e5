"""Build and check a cloud's plan from the settings."""

from __future__ import annotations

from importlib.metadata import version

from dojo.settings import Settings
from dojo.teaching.cloud import sagemaker, vertex
from dojo.teaching.cloud.plan import Resource

BUILDERS = {vertex.CLOUD: vertex.build, sagemaker.CLOUD: sagemaker.build}


def image_tag() -> str:
    """Images are tagged with the platform's version: never `latest`."""
    return version("mlops-dojo")


def build_plan(cloud: str, settings: Settings) -> list[Resource]:
    if cloud not in BUILDERS:
        raise ValueError(f"unknown cloud {cloud!r}: choose one of {', '.join(BUILDERS)}")
    return BUILDERS[cloud](settings, image_tag())
