"""`ui.client.Generators`: the chat reads ``GET /v1/generators`` of newer and older servers alike."""

from __future__ import annotations

from ui.client import GeneratorInfo, Generators

NEWER = {
    "default": "local",
    "available": ["extractive"],
    "generators": [
        {
            "name": "local",
            "available": False,
            "reason": "the local generator needs llama-cpp-python",
            "install": "make install-llm",
            "model_id": None,
        },
        {"name": "extractive", "available": True, "reason": None, "install": None, "model_id": "extractive"},
    ],
}


def test_every_generator_is_read_with_why_it_is_unavailable() -> None:
    generators = Generators.parse(NEWER)
    assert generators.generators == (
        GeneratorInfo("local", False, "the local generator needs llama-cpp-python", "make install-llm"),
        GeneratorInfo("extractive", True),
    )
    assert generators.usable == ("extractive",)
    assert [g.name for g in generators.unavailable] == ["local"]


def test_unavailable_default_gives_way_to_the_first_generator_that_can_answer() -> None:
    assert Generators.parse(NEWER).preferred == "extractive"


def test_available_default_is_preferred() -> None:
    generators = Generators.parse({"default": "local", "available": ["local", "extractive"]})
    assert generators.preferred == "local"


def test_older_server_without_the_list_counts_its_available_generators() -> None:
    generators = Generators.parse({"default": "extractive", "available": ["extractive", "local"]})
    assert [g.name for g in generators.generators] == ["extractive", "local"]
    assert all(g.available for g in generators.generators) and not generators.unavailable


def test_malformed_entries_are_skipped() -> None:
    data = {"default": "extractive", "available": ["extractive"], "generators": [1, {}]}
    generators = Generators.parse(data)
    assert generators.generators == (GeneratorInfo("extractive", True),)


def test_no_generator_that_can_answer_prefers_none() -> None:
    generators = Generators.parse(
        {"default": "local", "available": [], "generators": [{"name": "local", "available": False}]}
    )
    assert generators.usable == () and generators.preferred is None
