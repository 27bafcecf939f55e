"""Packaging: the wheel installs hopjax with its configs and no stray top-level module, and
runs a shipped config by name outside the checkout; ``hopjax configs`` lists and copies."""

import os
import pathlib
import subprocess
import sys
import zipfile

import pytest

from hopjax import cli, shipped_configs

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_repository_config_is_shipped_and_summarised():
    repo = sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
    assert shipped_configs.names() == repo
    assert all(shipped_configs.summary(n) for n in repo)  # each starts with a comment


def test_resolve_prefers_an_existing_file_then_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shipped_configs.resolve("quickstart") == shipped_configs.config_dir() / "quickstart.yaml"
    assert shipped_configs.resolve("quickstart.yaml").name == "quickstart.yaml"
    (tmp_path / "quickstart").write_text("experiment: retrieval\n")
    assert shipped_configs.resolve("quickstart") == pathlib.Path("quickstart")  # the user's file
    for bad in ("nope", "../configs/quickstart", ""):
        assert shipped_configs.shipped(bad) is None


def test_configs_command_copies_and_refuses_to_overwrite(tmp_path, capsys):
    assert cli.main(["configs", "quickstart", "hebb_capacity", "--to", str(tmp_path)]) == 0
    copied = tmp_path / "quickstart.yaml"
    assert copied.read_bytes() == (shipped_configs.config_dir() / "quickstart.yaml").read_bytes()
    copied.write_text("# mine\n")
    assert cli.main(["configs", "quickstart", "--to", str(tmp_path)]) == 2
    assert "will not overwrite" in capsys.readouterr().err
    assert copied.read_text() == "# mine\n"  # nothing lost
    assert cli.main(["configs", "nope", "--to", str(tmp_path)]) == 2
    assert "quickstart" in capsys.readouterr().err  # names what is allowed
    assert cli.main(["configs", "quickstart", "--to", str(tmp_path), "--force"]) == 0
    assert copied.read_bytes() == (shipped_configs.config_dir() / "quickstart.yaml").read_bytes()


def test_list_names_every_rule_and_config(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("hebb", "pseudo_inverse", "dreaming_kernel", "unlearning", "daydreaming",
                 *shipped_configs.names()):
        assert name in out
    import hopjax.rules as R

    for name, *_ in cli._RULES:
        assert callable(getattr(R, name))  # the list names real functions


def test_unknown_config_names_the_shipped_ones(capsys):
    assert cli.main(["run", "no_such_config"]) == 2
    assert "shipped: " in capsys.readouterr().err


@pytest.mark.skipif(os.environ.get("HOPJAX_SKIP_WHEEL") == "1", reason="HOPJAX_SKIP_WHEEL=1")
def test_wheel_installs_into_a_fresh_venv_and_runs_quickstart_outside_the_checkout(tmp_path):
    def sh(*cmd, cwd=tmp_path, timeout=600, env=None):
        env = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
               **(env or {})}
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                           timeout=timeout)
        assert r.returncode == 0, f"{' '.join(map(str, cmd))}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        return r.stdout

    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "dist", ROOT)
    (wheel,) = (tmp_path / "dist").glob("hopjax-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} <= {"hopjax", wheel.name.split("-py3")[0] + ".dist-info"}
    assert "hopjax/configs/quickstart.yaml" in names and "hopjax/experiments/__init__.py" in names

    # a fresh venv holding only the wheel; the dependencies come from this environment's
    # site-packages through a .pth line (which runs no .pth of its own there: the checkout's
    # editable install stays invisible), so pip does not download and install JAX again
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    site = sh(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    deps = [p for p in sys.path if p.endswith("site-packages") and pathlib.Path(p).is_dir()]
    (pathlib.Path(site) / "zz_test_dependencies.pth").write_text("\n".join(deps) + "\n")
    sh(py, "-m", "pip", "install", "-q", "--no-deps", wheel)
    probe = ("from importlib.metadata import requires, version\n"
             "from packaging.requirements import Requirement\n"
             "reqs = [Requirement(r) for r in requires('hopjax')]\n"
             "print([str(r) for r in reqs if not r.marker and not "
             "r.specifier.contains(version(r.name), prereleases=True)])")
    assert sh(py, "-c", probe).strip() == "[]"  # the wheel's own requirements are all met
    work = tmp_path / "elsewhere"
    work.mkdir()
    out = sh(venv / "bin" / "hopjax", "run", "quickstart", "--quick", "--no-progress", cwd=work,
             env={"XLA_FLAGS": "--xla_backend_optimization_level=0"})  # compiling dominates
    assert (work / "results" / "quickstart" / "results.nc").is_file(), out
    assert (work / "results" / "quickstart" / "capacity.png").is_file()
    probe = ("import importlib.util as u, hopjax, hopjax.experiments;"
             "print(u.find_spec('experiments') is None, hopjax.__file__)")
    found_none, where = sh(py, "-c", probe, cwd=work).split()
    assert found_none == "True"  # no generic top-level `experiments` module installed
    assert str(venv) in where  # the wheel's copy, not the checkout
