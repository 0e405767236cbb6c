"""Built-in plugin: the fixed prompt schemes (``none`` and ``text:<template>``)."""

from __future__ import annotations

from bench import PromptCondition, PromptScheme, hookimpl


def empty_prompt(argument: str | None) -> PromptCondition:
    """The empty text prompt (SD's unconditional embedding)."""
    return PromptCondition(text="")


def fixed_text(argument: str | None) -> PromptCondition:
    """One fixed text for every image (it must not name the class: that would leak labels)."""
    return PromptCondition(text=argument or "")


@hookimpl
def register_prompt_schemes(register) -> None:
    register(PromptScheme(id="none", description="the empty text prompt", build=empty_prompt))
    register(
        PromptScheme(
            id="text",
            description="a fixed text for every image, e.g. text:a photo of a",
            build=fixed_text,
            takes_argument=True,
            needs_text_encoder=True,
        )
    )
