"""docs/tutorials.md shows the lessons' figures: every figure a lesson saves is there, every
image it links exists and is a figure its lesson saves, and no image file in
docs/img/tutorials/ is left unlinked. (Static: reads files, runs no lesson.)"""

from __future__ import annotations

import re
from pathlib import Path

from tests.tutorials.helpers import PNG_MAGIC, TUTORIALS

DOCS = TUTORIALS.parent / "docs"
PAGE = DOCS / "tutorials.md"
IMAGES = DOCS / "img" / "tutorials"
LINK = re.compile(r"!\[[^\]]*\]\((img/tutorials/[^)]+)\)")
# A .png name in a lesson's source, f-string fields allowed: "loss_vs_baselines_{level}.png".
SAVED = re.compile(r"""["']([\w{}.\-]+\.png)["']""")


def _lessons() -> dict[str, Path]:
    return {p.name[:2]: p for p in sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))}


def _figure_patterns(lesson: Path) -> list[re.Pattern[str]]:
    names = SAVED.findall(lesson.read_text())
    return [re.compile(re.sub(r"\\\{[^}]*\\\}", r"[\\w-]+", re.escape(n)) + "$") for n in names]


def _linked() -> list[str]:
    return LINK.findall(PAGE.read_text())


def test_every_linked_image_exists_and_is_a_figure_its_lesson_saves():
    lessons = _lessons()
    links = _linked()
    assert links, "docs/tutorials.md links no figure"
    for link in links:
        path = DOCS / link
        assert path.is_file(), f"{link} is linked but missing"
        assert path.read_bytes()[:8] == PNG_MAGIC, f"{link} is not a PNG"
        number, _, figure = path.name.partition("_")
        assert number in lessons, f"{link}: no lesson {number}"
        patterns = _figure_patterns(lessons[number])
        assert any(p.match(figure) for p in patterns), (
            f"{link}: lesson {lessons[number].name} saves no figure named {figure!r}"
        )


def test_every_figure_a_lesson_saves_is_shown_in_the_docs():
    names = [Path(link).name for link in _linked()]
    missing = []
    for number, lesson in _lessons().items():
        figures = [n.partition("_")[2] for n in names if n.startswith(f"{number}_")]
        for pattern in _figure_patterns(lesson):
            if not any(pattern.match(f) for f in figures):
                missing.append(f"{lesson.name}: {pattern.pattern}")
    assert _figure_patterns(_lessons()["01"]), "the .png names are no longer found"
    assert not missing, f"docs/tutorials.md does not show {missing}"


def test_no_image_file_is_left_unlinked():
    linked = {Path(link).name for link in _linked()}
    on_disk = {p.name for p in IMAGES.glob("*.png")}
    assert on_disk - linked == set(), sorted(on_disk - linked)
