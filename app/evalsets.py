"""Deterministic synthetic evaluation sets: long documents with planted facts and hard negatives.

No QA data set ships with its documents offline, so longlens builds its own, from a seed: every facility
report hides one code (single-hop questions) and an operator whose own profile, in another document, names
a headquarters city (two-hop questions). Near-identical sentences about other facilities are the hard
negatives: they share every word of the question but the facility's name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

PREFIXES = "Vel Tor Mar Kes Dun Brae Ost Lin Cal Har Wen Rok Sil Fen Gar Tam".split()
SUFFIXES = "tra wick holm stead mere ford gate ridge more ton by field".split()
KINDS = ["pumping station", "weather station", "ferry terminal", "seed bank", "observatory", "water works"]
CITIES = "Aberlow Brindmoor Castrel Dovenham Elmridge Fallowby Garnet Hollins Ivybridge Jesmond".split()
FILLER = [
    "Maintenance crews inspected the {kind} twice during the season and logged routine findings.",
    "The {kind} budget for the year covered staff, spare parts and a small training programme.",
    "Visitors are asked to sign in at the gate and to keep to the marked paths around the {kind}.",
    "Rainfall over the catchment was close to the ten-year average, with a wet spell in October.",
    "A review of the access road recommended new drainage and better signage near the entrance.",
    "Records from the {kind} are archived monthly and summarised in the annual report.",
    "Volunteers helped with the spring clean-up and counted birds along the boundary hedges.",
    "The safety audit found no major issues but asked for clearer labels on the control cabinets.",
]


@dataclass
class EvalQuestion:
    question: str
    answer: str
    relevant_files: list[str]
    relevant_snippets: list[str]  # text that marks a relevant chunk (the planted sentence)
    hops: int


@dataclass
class EvalSet:
    files: dict[str, str] = field(default_factory=dict)  # file name → Markdown text
    questions: list[EvalQuestion] = field(default_factory=list)

    def write(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in self.files.items():
            (folder / name).write_text(text, encoding="utf-8")
            paths.append(folder / name)
        return paths


def facility_names(rng: random.Random, n: int) -> list[str]:
    names: list[str] = []
    while len(names) < n:
        name = f"{rng.choice(PREFIXES)}{rng.choice(SUFFIXES)}-{rng.randint(2, 98)}"
        if name not in names:
            names.append(name)
    return names


def build_evalset(n_facilities: int = 24, filler_paragraphs: int = 12, seed: int = 0) -> EvalSet:
    """Facility reports (one planted code each + an operator) and operator profiles (headquarters)."""
    rng = random.Random(seed)
    names = facility_names(rng, n_facilities)
    n_operators = max(2, n_facilities // 3)
    operators = [f"{rng.choice(PREFIXES)}{rng.choice(SUFFIXES)} Utilities {i}" for i in range(n_operators)]
    hq = {op: CITIES[i % len(CITIES)] for i, op in enumerate(operators)}
    out = EvalSet()
    for op in operators:
        body = [f"{op} is a regional company founded in {rng.randint(1900, 1990)}."]
        body += [f"The headquarters of {op} are in {hq[op]}."]
        body += [rng.choice(FILLER).format(kind="company") for _ in range(3)]
        out.files[f"operator-{operators.index(op):02d}.md"] = f"# {op}\n\n" + "\n\n".join(body) + "\n"
    for i, name in enumerate(names):
        kind = rng.choice(KINDS)
        code = str(rng.randint(10000, 99999))
        op = operators[i % len(operators)]
        fact = f"The calibration code of {name} is {code}."
        paragraphs = [rng.choice(FILLER).format(kind=kind) for _ in range(filler_paragraphs)]
        decoy = names[(i + 1) % len(names)]
        paragraphs.insert(rng.randint(0, len(paragraphs)), fact)
        paragraphs.insert(rng.randint(0, len(paragraphs)), f"{name} is operated by {op}.")
        # a hard negative: nearly the question's words, about another facility, with another code
        decoy_fact = f"An older draft listed the calibration code of {decoy} as {rng.randint(10000, 99999)}."
        paragraphs.insert(rng.randint(0, len(paragraphs)), decoy_fact)
        file = f"facility-{i:02d}.md"
        out.files[file] = f"# {name} {kind} report\n\n" + "\n\n".join(paragraphs) + "\n"
        out.questions.append(EvalQuestion(f"What is the calibration code of {name}?", code, [file], [fact], 1))
        op_file = f"operator-{operators.index(op):02d}.md"
        out.questions.append(
            EvalQuestion(
                f"In which city are the headquarters of the company that operates {name}?",
                hq[op],
                [file, op_file],
                [f"{name} is operated by {op}.", f"The headquarters of {op} are in {hq[op]}."],
                2,
            )
        )
    return out
