"""Shipped configs give the recorded results, bit for bit (tests/golden/quick.json).

The reference holds a SHA-256 per output variable of every shipped config's quick-mode sweep
(`tests/golden/record.py`); a change that alters any bit of a result fails here. The suite
recomputes one cheap config per sweep family (a few seconds each); before a refactor of the
experiment layer lands, ``python tests/golden/record.py --check`` compares all of them.
A deliberate change of results is re-recorded (``record.py NAME``) in the same commit.

Bits depend on the XLA build: the comparison runs only where JAX, jaxlib, NumPy and the CPU
architecture are those of the recording (the reason is printed otherwise).
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
# capacity (the retrieval kind's engine), Daydreaming training, the BAM: ~10 s each
CHECKED = ["hebb_capacity", "daydreaming_capacity", "bam_capacity"]


def _recorded():
    return json.loads((GOLDEN / "quick.json").read_text())


def test_every_shipped_config_has_a_recorded_result():
    from hopjax import shipped_configs

    assert sorted(_recorded()["configs"]) == shipped_configs.names()


def test_cheap_shipped_configs_give_the_recorded_bits():
    sys.path.insert(0, str(GOLDEN))
    try:
        from record import environment
    finally:
        sys.path.remove(str(GOLDEN))
    here, then = environment(), _recorded()["environment"]
    if here != then:
        pytest.skip(f"results recorded with {then}, this is {here}: bits are not comparable")
    # default XLA options: the recording's (no test-speed flags inherited)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    p = subprocess.run([sys.executable, str(GOLDEN / "record.py"), "--check", *CHECKED],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert p.returncode == 0 and p.stdout.count(" same ") == len(CHECKED), p.stdout + p.stderr
