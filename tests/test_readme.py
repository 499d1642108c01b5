"""The README's quickstart runs and prints what the README says it prints."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_selects_the_informative_columns():
    code = re.search(r"## Quickstart\s+```python\n(.*?)```", README.read_text(), re.S).group(1)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"OMP_NUM_THREADS": "1", "PATH": ""}, check=True)
    selected, score = re.search(r"\[([\d ]+)\]\s+([\d.]+)", out.stdout).groups()
    assert selected.split() == ["0", "1", "2", "3", "4"]
    assert float(score) > 0.9
