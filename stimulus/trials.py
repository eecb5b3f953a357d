"""The trial list: which face, in which order, with which fixation time, decided up front.

Everything random is drawn here from generators seeded by the protocol's
seed and the block's position, so a protocol and a seed always give the same
session (and a rerun reproduces a participant's exact sequence). Training
trials fix only the category and identity in advance; the staircase chooses
how ambiguous the face is while the block runs.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from configs import ConfigError
from stimulus.protocol import Block, Protocol
from stimulus.stimuli import Face, StimulusSet


@dataclass(frozen=True)
class Trial:
    block: str
    block_index: int  # 1-based
    index: int  # 1-based within the block
    number: int  # 1-based across the protocol
    fixation: float  # seconds, jitter included
    face: Face | None = None  # rating trials: the face; training: chosen by the staircase
    category: str = ""  # training: sad, neutral or happy
    identity: str = ""  # training: whose face


@dataclass(frozen=True)
class BlockPlan:
    block: Block
    index: int  # 1-based
    trials: tuple[Trial, ...]


def block_rng(seed: int, block_index: int) -> random.Random:
    """One generator per block, so editing block 2 leaves block 1's order alone."""
    return random.Random(f"attune-protocol:{seed}:{block_index}")


def plan(protocol: Protocol, stimset: StimulusSet, seed: int | None = None) -> list[BlockPlan]:
    """All blocks with their trials; ``seed`` overrides the protocol's seed."""
    seed = protocol.seed if seed is None else seed
    plans: list[BlockPlan] = []
    number = 0
    for bi, block in enumerate(protocol.blocks, start=1):
        rng = block_rng(seed, bi)
        where = f"blocks[{bi - 1}]"
        _check_filters(protocol, stimset, block, where)
        if protocol.task == "training":
            specs = _training_specs(protocol, stimset, block, rng)
        else:
            specs = _rating_specs(protocol, stimset, block, rng, where)
        trials = []
        for ti, (face, category, identity) in enumerate(specs, start=1):
            number += 1
            fixation = protocol.timing.fixation + rng.uniform(0.0, protocol.timing.fixation_jitter)
            trials.append(Trial(block.name, bi, ti, number, round(fixation, 6), face, category, identity))
        plans.append(BlockPlan(block, bi, tuple(trials)))
    return plans


def _check_filters(protocol: Protocol, stimset: StimulusSet, block: Block, where: str) -> None:
    if block.identities is not None:
        unknown = [i for i in block.identities if i not in stimset.identities]
        if unknown:
            raise ConfigError(protocol.source, f"{where}.identities",
                              f"{', '.join(unknown)} not in the stimulus set "
                              f"(it has {', '.join(stimset.identities)})")
    if block.morphs is not None:
        have = stimset.morphs
        unknown = [m for m in block.morphs if not any(abs(m - h) < 1e-6 for h in have)]
        if unknown:
            raise ConfigError(protocol.source, f"{where}.morphs",
                              f"{', '.join(f'{m:g}' for m in unknown)} not in the stimulus set "
                              f"(it has {', '.join(f'{h:g}' for h in have)})")


def _rating_specs(protocol: Protocol, stimset: StimulusSet, block: Block, rng: random.Random,
                  where: str) -> list[tuple[Face, str, str]]:
    faces = stimset.select(block.identities, block.morphs)
    if not faces:
        raise ConfigError(protocol.source, where, "its identities and morphs select no face")
    order: list[Face] = []
    for _ in range(block.repeats):
        batch = list(faces)
        if protocol.shuffle:
            rng.shuffle(batch)
        order.extend(batch)
    if block.trials is not None:
        while len(order) < block.trials:
            batch = list(faces)
            if protocol.shuffle:
                rng.shuffle(batch)
            order.extend(batch)
        order = order[:block.trials]
    return [(f, f.emotion, f.identity) for f in order]


def _training_specs(protocol: Protocol, stimset: StimulusSet, block: Block,
                    rng: random.Random) -> list[tuple[None, str, str]]:
    n = block.trials or 0
    n_neutral = round(n * protocol.training.neutral_fraction)
    n_happy = (n - n_neutral) // 2
    categories = ["neutral"] * n_neutral + ["happy"] * n_happy + ["sad"] * (n - n_neutral - n_happy)
    if protocol.shuffle:
        rng.shuffle(categories)
    identities = list(block.identities or stimset.identities)
    people: list[str] = []
    while len(people) < n:
        batch = list(identities)
        if protocol.shuffle:
            rng.shuffle(batch)
        people.extend(batch)
    return [(None, c, p) for c, p in zip(categories, people)]
