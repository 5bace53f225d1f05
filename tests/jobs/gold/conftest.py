"""The gold story, built once per test session and shared by the gold tests."""

from __future__ import annotations

import pytest

from .story import Story, build_story


@pytest.fixture(scope="session")
def story(spark, tmp_path_factory) -> Story:
    return build_story(spark, tmp_path_factory.mktemp("gold"))


@pytest.fixture(scope="session")
def gold_db(story) -> str:
    return story.cfg.database("gold")


@pytest.fixture(scope="session")
def silver_db(story) -> str:
    return story.cfg.database("silver")
