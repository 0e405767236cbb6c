"""Built-in plugin: the prompt schemes.

Fixed: ``none`` (the empty text) and ``text:<template>``. Learned (Koley et al.): ``visual`` (a
pixel-space border per modality), ``textual`` (one (77, d) context shared by both modalities) and
``visual+textual``; ``bench train`` learns them and ``learned:FILE`` uses the saved file.
"""

from __future__ import annotations

from bench import BackboneInfo, BenchError, PromptCondition, PromptScheme, hookimpl

LEARNED_SCHEMES = {
    "visual": ("visual",),
    "textual": ("textual",),
    "visual+textual": ("visual", "textual"),
}


def empty_prompt(argument: str | None) -> PromptCondition:
    """The empty text prompt (SD's unconditional embedding)."""
    return PromptCondition(text="")


def fixed_text(argument: str | None) -> PromptCondition:
    """One fixed text for every image (it must not name the class: that would leak labels)."""
    return PromptCondition(text=argument or "")


def untrained(argument: str | None) -> PromptCondition:
    """A learned scheme has nothing to condition on until it is trained (``bench run`` trains it
    first, with the config's ``train`` settings; library code must do the same)."""
    raise BenchError(
        "A learned prompt scheme (visual, textual, visual+textual) must be trained before it conditions "
        "extraction.",
        "`bench run --prompt visual+textual` trains it first; or train it with `bench train --output FILE` "
        "and pass --prompt learned:FILE.",
    )


def learned_prompt(argument: str | None) -> PromptCondition:
    """The prompt saved by ``bench train`` in the file ``argument``."""
    from bench import learned_condition

    return learned_condition(argument or "")


def check_learned(argument: str | None, backbone: BackboneInfo, image_size: int) -> None:
    """Plan-time check: the file exists, is a prompt file, and was trained for this backbone and size."""
    from bench import check_prompt_file

    check_prompt_file(argument or "", backbone.id, image_size)


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
    descriptions = {
        "visual": "learned pixel border per modality (train with `bench train`)",
        "textual": "learned (77, d) text context shared by both modalities (train with `bench train`)",
        "visual+textual": "both learned prompts, Koley et al.'s scheme (train with `bench train`)",
    }
    for scheme_id, parts in LEARNED_SCHEMES.items():
        register(
            PromptScheme(
                id=scheme_id,
                description=descriptions[scheme_id],
                build=untrained,
                needs_text_encoder="textual" in parts,
                learns=parts,
            )
        )
    register(
        PromptScheme(
            id="learned",
            description="a prompt trained by `bench train`, e.g. learned:prompts/sd15.safetensors",
            build=learned_prompt,
            takes_argument=True,
            check=check_learned,
        )
    )
