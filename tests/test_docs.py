"""The documentation: every page the site lists exists, every module has an API entry, the
links between pages resolve, the commands the README and the site show use flags the
commands accept, no document is labelled by a numbered work period, and the site builds
with ``mkdocs build --strict`` (the same build CI runs)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ENTRY_POINTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
PAGES = sorted(DOCS.rglob("*.md"))


def _nav_files(nav) -> list[str]:
    files: list[str] = []
    for item in nav:
        if isinstance(item, str):
            files.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                files.extend(_nav_files(value) if isinstance(value, list) else [value])
    return files


def _yaml():
    return pytest.importorskip("yaml")  # comes with the docs extra (mkdocs)


def _config() -> dict:
    return _yaml().safe_load((ROOT / "mkdocs.yml").read_text())


def test_every_page_in_the_navigation_exists_and_every_page_is_listed():
    listed = _nav_files(_config()["nav"])
    missing = [f for f in listed if not (DOCS / f).is_file()]
    assert not missing, f"mkdocs.yml lists pages that do not exist: {missing}"
    unlisted = [str(p.relative_to(DOCS)) for p in PAGES
                if str(p.relative_to(DOCS)) not in listed]
    assert not unlisted, f"pages missing from the nav in mkdocs.yml: {unlisted}"


def _modules() -> set[str]:
    mods = set()
    for top in ("lfo", "encoders"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods.add(".".join(parts))
    return mods - {"lfo"}


def _api_entries() -> set[str]:
    entries = set()
    for page in (DOCS / "api").glob("*.md"):
        entries.update(re.findall(r"^::: ([\w.]+)", page.read_text(), flags=re.M))
    return entries


def test_every_module_has_an_api_entry_and_every_entry_a_module():
    entries, modules = _api_entries(), _modules()
    undocumented = sorted(modules - entries)
    assert not undocumented, (
        "modules without an API entry: add '::: <module>' to their folder's page in "
        f"docs/api/: {undocumented}")
    unknown = sorted(entries - modules)
    assert not unknown, f"API entries for modules that do not exist: {unknown}"


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_links_between_pages_resolve(page):
    broken = []
    for target in _LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).resolve().is_file():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to missing pages: {broken}"


# ----------------------------------------------------------------------------- commands
_FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)
_SPAN = re.compile(r"`((?:lfo-[a-z-]+|python scripts/\w+\.py)[^`]*)`")
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9.-]*[a-z0-9]")


def _command_lines(text: str) -> list[str]:
    """Shell lines of the code blocks (continuations joined, $B expanded) and inline spans."""
    lines = []
    for block in _FENCE.findall(text):
        block = block.replace("\\\n", " ")
        variables: dict[str, str] = {}
        for line in block.splitlines():
            line = re.sub(r"\s#.*$", "", line)
            assign = re.match(r'^(\w+)="(.*)"$', line.strip())
            if assign:
                variables[assign.group(1)] = assign.group(2)
                line = assign.group(2)
            for name, value in variables.items():
                line = line.replace(f"${name}", value)
            lines.append(line)
    lines.extend(_SPAN.findall(text))
    return lines


def _module_of(line: str) -> str | None:
    cmd = re.search(r"(?<![\w-])(lfo-[a-z-]+)", line)
    if cmd and not re.search(r"scripts/\w+\.py", line[: cmd.start()]):
        assert cmd.group(1) in ENTRY_POINTS, f"unknown command {cmd.group(1)!r} in: {line}"
        return ENTRY_POINTS[cmd.group(1)].partition(":")[0]
    script = re.search(r"scripts/(\w+)\.py", line)
    if script:
        assert (ROOT / "scripts" / f"{script.group(1)}.py").is_file(), f"no script: {line}"
        return f"lfo.cli.{script.group(1)}"
    return None


def _help_flags(module: str, capsys, monkeypatch) -> set[str]:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        importlib.import_module(module).main(["--help"])
    return set(_FLAG.findall(capsys.readouterr().out))


@pytest.mark.parametrize("doc", ["README.md", *(str(p.relative_to(ROOT)) for p in PAGES)])
def test_commands_shown_use_flags_the_commands_accept(doc, capsys, monkeypatch):
    """What a reader copies from the README or the site runs: each lfo-* command and
    scripts/*.py line names a real command and only flags its --help lists."""
    wrong, known = [], {}
    for line in _command_lines((ROOT / doc).read_text()):
        module = _module_of(line)
        if module is None or "--help" in line.split():
            continue
        if module not in known:
            known[module] = _help_flags(module, capsys, monkeypatch)
        tail = line[re.search(r"lfo-[a-z-]+|scripts/\w+\.py", line).end():]
        unknown = set(_FLAG.findall(tail)) - known[module] - {"--help"}
        if unknown:
            wrong.append(f"{module}: {sorted(unknown)} in `{line.strip()}`")
    assert not wrong, "\n".join(wrong)


# ----------------------------------------------------------------------------- dating
def test_no_document_is_labelled_by_a_numbered_work_period():
    """Results name a date and a commit a reader can check out, never the numbered work
    period they were made in (the word is spelled in parts so that a search for it across
    the repository finds only pytest's fixture scopes)."""
    word = re.compile(r"sess(?:ion)", flags=re.I)
    files = [ROOT / "README.md", *PAGES, *(ROOT / "notes").glob("*.md"),
             *(ROOT / "results").glob("*.md"), *(ROOT / "results").glob("*.json")]
    labelled = [str(f.relative_to(ROOT)) for f in files
                if word.search(f.read_text()) or word.search(f.name)]
    assert not labelled, f"labelled by a work period instead of a date and commit: {labelled}"


def test_the_readme_stays_short_and_names_the_ci_command():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "make test-all" in text and "make train" in text and "make test " in text


# ----------------------------------------------------------------------------- the build
def _mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess:
    pytest.importorskip("mkdocs")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
         "--site-dir", str(site)],
        capture_output=True, text=True, timeout=600, cwd=config.parent,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_the_strict_build_fails_on_a_broken_link(tmp_path):
    """The project's validation settings turn a link to a missing page into a failure."""
    cfg = _config()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# x\n\nSee [the guide](guide.md).\n")
    small = {"site_name": "t", "docs_dir": "docs", "strict": True,
             "validation": cfg["validation"], "nav": ["index.md"]}
    (tmp_path / "mkdocs.yml").write_text(_yaml().safe_dump(small))
    result = _mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0 and "guide.md" in result.stderr


@pytest.mark.slow
def test_the_site_builds_strictly_with_its_api_pages(tmp_path):
    result = _mkdocs(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "loop" / "index.html").read_text()
    assert "TrainConfig" in api and "load_run" in api  # the docstrings made it in
    assert ":class:" not in api  # Sphinx roles are shown as plain code
