"""The README's quick start runs as written (what a new user pastes first)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_runs_verbatim(capsys):
    text = README.read_text()
    section = text[text.index("## Quick start") :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    exec(compile(code, "README.md (quick start)", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    assert "<ADJLIST_START>" in printed and printed.strip().splitlines()[-1].split()[0] in {
        "True",
        "False",
    }
