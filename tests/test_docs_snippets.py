"""The README's and docs' code runs, and their commands exist.

- Every ```python block of `README.md` and `docs/*.md` runs: each file's
  blocks in order in one fresh Python process (later blocks use the names of
  earlier ones), in an empty working folder, with the environment's
  `KERAS_BACKEND`. A failure names the file, the block and its first line.
- `examples/glomo_from_scratch.py` runs to the end in a fresh process.
- Every `glomo-keras ...` line of a ```bash block names a real command and
  only flags its parser knows (the blocks are not executed).
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from glomo_keras.cli import COMMANDS
from glomo_keras.cli import build_parser

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLE = ROOT / "examples" / "glomo_from_scratch.py"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
# Runs the blocks of a JSON file [[label, code], ...] in one namespace.
RUNNER = """
import json, sys, traceback
namespace = {"__name__": "__main__"}
for label, code in json.load(open(sys.argv[1], encoding="utf-8")):
    try:
        exec(compile(code, label, "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        sys.exit(f"FAILED: {label}")
"""


def blocks(page, language):
    """[(line number, code)] of a page's fenced blocks in `language`."""
    text = page.read_text(encoding="utf-8")
    return [(text[:match.start()].count("\n") + 1, match.group(2))
            for match in FENCE.finditer(text) if match.group(1) == language]


def run_python(arguments, cwd, timeout=600):
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return subprocess.run([sys.executable, *arguments], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def pages_with(language):
    return [page for page in PAGES if blocks(page, language)]


@pytest.mark.slow
@pytest.mark.parametrize("page", pages_with("python"), ids=lambda page: page.name)
def test_python_blocks_run(page, tmp_path):
    labelled = [[f"{page.relative_to(ROOT)}, block at line {line}", code]
                for line, code in blocks(page, "python")]
    (tmp_path / "blocks.json").write_text(json.dumps(labelled), encoding="utf-8")
    (tmp_path / "run_blocks.py").write_text(RUNNER, encoding="utf-8")
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run_python([str(tmp_path / "run_blocks.py"), str(tmp_path / "blocks.json")],
                        cwd=workdir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]


@pytest.mark.slow
def test_the_example_runs(tmp_path):
    result = run_python([str(EXAMPLE)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert "MoE balancing losses" in result.stdout
    assert "test MAE" in result.stdout


def test_the_example_is_short_and_keras_io_style():
    text = EXAMPLE.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    header = text.split('"""')[1]
    for field in ("Title:", "Author:", "Date created:", "Last modified:", "Description:"):
        assert field in header


def test_the_readme_is_short_and_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150
    assert lines[2] == "```bash" and lines[5] == "```"
    commands = [line.split("#")[0].strip() for line in lines[3:5]]
    assert commands == [
        "bash scripts/setup.sh && python recipes/train_mosei.py",
        "bash scripts/setup.sh && bash scripts/test.sh",
    ]


def test_the_readme_lists_every_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"`glomo-keras {command}" in readme, command


def command_lines():
    """[(page, line, words)] of each `glomo-keras` command in the bash blocks."""
    found = []
    for page in pages_with("bash"):
        for line, code in blocks(page, "bash"):
            for text in code.replace("\\\n", " ").splitlines():
                text = text.split(" #")[0]
                for part in text.split("&&"):
                    words = part.split()
                    if "glomo-keras" in words:
                        found.append((page.name, line, words[words.index("glomo-keras") + 1:]))
    return found


def parser_of(words):
    """The parser of `glomo-keras WORDS...` (sub-commands resolved) and the rest."""
    parser = build_parser(words[0])
    words = words[1:]
    while parser._subparsers is not None:
        choices = parser._subparsers._group_actions[0].choices
        assert words and words[0] in choices, (words, sorted(choices))
        parser, words = choices[words[0]], words[1:]
    return parser


def test_every_command_of_the_docs_exists_with_its_flags():
    lines = command_lines()
    assert len(lines) >= 20
    for page, line, words in lines:
        assert words and words[0] in COMMANDS, (page, line, words)
        known = set(parser_of(words)._option_string_actions)
        for flag in re.findall(r"(?<![\w-])--[a-z][\w-]*", " ".join(words[1:])):
            assert flag in known, f"{page} line {line}: {flag} is not a flag of {words[:2]}"


def anchors(page):
    """GitHub's anchors of a page's headings."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text(encoding="utf-8")), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_link_between_the_pages_resolves():
    for page in PAGES:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: {target}"
            if anchor:
                assert anchor in anchors(linked), f"{page.name}: {target}"
