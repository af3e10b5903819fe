"""environment.yml lists the same packages, with the same versions, as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = project["dependencies"] + [
        requirement for name in ("dev", "compare", "dask", "fast") for requirement in extras[name]
    ]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge", "nodefaults"]
    conda = [dep for dep in environment["dependencies"] if isinstance(dep, str)]
    conda_specs = {_name(dep): dep.replace(" ", "") for dep in conda}
    for requirement in wanted:
        # conda's packages have no extras: dask[distributed]>=2024.1 is conda's dask>=2024.1
        spec = re.sub(r"\[.*?\]", "", requirement).replace(" ", "")
        assert conda_specs.get(_name(requirement)) == spec, requirement
    pip = next(dep["pip"] for dep in environment["dependencies"] if isinstance(dep, dict))
    assert pip == ["-e .[dev,compare,dask,fast]"]
