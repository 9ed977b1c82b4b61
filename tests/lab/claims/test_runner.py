"""reglab claims end to end: real quick runs of the arithmetic claims, resume, files, CLI."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from reglab import ConfigError
from reglab.cli import main
from reglab.lab.claims import CLAIMS, NOTES
from reglab.lab.claims.outputs import decide_all
from reglab.lab.claims.runner import ClaimsConfig, run_claims
from reglab.lab.queue.storage import CellStore
from tests.lab.test_report_browser import _run

ARITHMETIC = [
    "dropout-updates-only-kept-units",
    "weight-decay-equals-l2-sgd",
    "weight-decay-differs-from-l2-adam",
    "batchnorm-running-stats-at-inference",
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("claims")
    return run_claims(out, only=ARITHMETIC, quick=True, jobs=1)


def test_arithmetic_claims_are_reproduced_on_a_real_quick_run(quick_run):
    verdicts = {f["id"]: f["verdict"] for f in quick_run.claims}
    assert verdicts == dict.fromkeys(ARITHMETIC, "reproduced")
    sgd = next(f for f in quick_run.claims if f["id"] == "weight-decay-equals-l2-sgd")
    assert all(v <= 1e-12 for v in sgd["finding"]["numbers"]["values"])
    assert len(sgd["finding"]["numbers"]["values"]) == CLAIMS[sgd["id"]].quick_seeds
    assert quick_run.missing == []


def test_summary_csv_and_report_hold_every_claim_run(quick_run):
    out: Path = quick_run.out_dir
    summary = json.loads((out / "summary.json").read_text())
    assert [c["id"] for c in summary["claims"]] == ARITHMETIC
    for c in summary["claims"]:
        assert c["verdict"] in ("reproduced", "refuted", "inconclusive")
        assert c["sources"] and all(s in NOTES.values() for s in c["sources"])
    assert summary["counts"] == {"reproduced": 4, "refuted": 0, "inconclusive": 0}
    header, *lines = (out / "results.csv").read_text().splitlines()
    assert header.startswith("claim,arm,seed,") and len(lines) == 4 * 3
    page = (out / "report.html").read_text()
    assert page.count("<section id=") == 4 and page.count("<img") == 4


def test_a_rerun_resumes_without_running_a_cell_again(quick_run):
    again = run_claims(quick_run.out_dir, only=ARITHMETIC, quick=True, jobs=1)
    store = CellStore(quick_run.url)
    assert sorted(store.complete_counts_per_cell().values()) == [1] * 12
    assert [f["verdict"] for f in again.claims] == [f["verdict"] for f in quick_run.claims]


def test_a_rerun_with_other_settings_is_refused(quick_run):
    with pytest.raises(ConfigError, match="already holds a study with different settings"):
        run_claims(quick_run.out_dir, only=ARITHMETIC, quick=False, jobs=1)


def test_every_claim_gets_a_verdict_even_before_its_cells_ran():
    config = ClaimsConfig(tuple(CLAIMS), quick=True)
    found = decide_all(config, [])
    assert [f["id"] for f in found] == list(CLAIMS)
    assert {f["verdict"] for f in found} == {"inconclusive"}


def test_unknown_claim_ids_are_one_line_errors(tmp_path, capsys):
    assert main(["claims", "--only", "dropout-cures-all", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "reglab: error: The 'only' parameter of run_claims must name claims among "
        "dropout-reduces-overfitting,"
    )
    assert err.endswith("Got 'dropout-cures-all' instead.") and "\n" not in err
    assert not (tmp_path / "x").exists()


def test_cli_lists_the_claims(capsys):
    assert main(["claims", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(CLAIMS)


@pytest.mark.browser
@pytest.mark.slow
def test_the_claims_report_renders_every_plot_in_chromium(quick_run, tmp_path):
    proc = _run(["--dump-dom", (quick_run.out_dir / "report.html").as_uri()], tmp_path / "p")
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", proc.stdout)
    assert body is not None
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("data-images") == "4/4"


def test_no_process_is_left_behind(quick_run):
    # the workers of a finished run are gone: no python process still holds its storage open
    out = subprocess.run(["pgrep", "-f", str(quick_run.out_dir)], capture_output=True, text=True)
    assert out.stdout.strip() == ""
