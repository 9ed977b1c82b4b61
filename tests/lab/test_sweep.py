"""The training-size sweep: cells and keys, storage, nested splits, outputs, errors.

Tiny sizes and epochs keep it fast: iris/wine/digits with a few dozen training rows.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import torch

import reglab.data as rd
from reglab import ConfigError
from reglab.lab.core.splits import SplitCache, check_train_sizes, nested_order
from reglab.lab.queue.storage import Cell, CellStore, sqlite_url
from reglab.lab.study import StudyConfig, prepare, run_study
from reglab.lab.study.report import summary_table, write_outputs

QUICK = {"val_size": 30, "epochs": 2, "seeds": 2, "recipes": ("baseline", "dropout")}


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


# -- config and cells --------------------------------------------------------------------------


def test_sweep_cells_run_largest_size_first_with_sized_keys() -> None:
    cfg = StudyConfig(data="iris", train_sizes=[20, 40], **QUICK)
    assert cfg.train_sizes == (20, 40)
    # Largest size first; within a size, seed 0 of every recipe first (a training function that
    # fails everywhere is seen after one cell per recipe), then the other seeds.
    assert [c.key for c in cfg.cells()] == [
        "baseline/0@40",
        "dropout/0@40",
        "baseline/1@40",
        "dropout/1@40",
        "baseline/0@20",
        "dropout/0@20",
        "baseline/1@20",
        "dropout/1@20",
    ]
    # Without a sweep the cells and keys are what every stored study has.
    plain = StudyConfig(data="iris", train_size=20, **QUICK)
    assert [c.key for c in plain.cells()] == ["baseline/0", "dropout/0", "baseline/1", "dropout/1"]
    assert all(c.train_size is None for c in plain.cells())
    assert StudyConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ((200, 100), "(200, 100)"),
        ((100, 100), "(100, 100)"),
        ((0, 100), "(0, 100)"),
        ((0.5, 0.8), "(0.5, 0.8)"),
        ((True, 5), "(True, 5)"),
        ((), "()"),
        ("100", "'100'"),
    ],
)
def test_bad_train_sizes_are_one_line(value: Any, shown: str) -> None:
    with pytest.raises(ConfigError) as info:
        StudyConfig(data="iris", train_sizes=value)
    message = str(info.value)
    assert message.startswith(
        "The 'train_sizes' parameter of StudyConfig must be distinct counts >= 1 in ascending "
        "order (e.g. "
    )
    assert message.endswith(f"Got {shown} instead.") and "\n" not in message


def test_unsorted_train_sizes_suggest_the_sorted_list() -> None:
    with pytest.raises(ConfigError, match=r"\(e\.g\. 50,200\)\. Got \[200, 50\] instead\."):
        check_train_sizes("StudyConfig", [200, 50])


def test_train_sizes_and_train_size_are_exclusive() -> None:
    with pytest.raises(ConfigError) as info:
        StudyConfig(data="iris", train_size=30, train_sizes=(20, 40))
    assert str(info.value) == (
        "The 'train_size' and 'train_sizes' parameters of StudyConfig are exclusive: give one. "
        "Got train_size=30 and train_sizes=20,40 instead."
    )


def test_prepare_fits_val_once_and_checks_both_ends() -> None:
    cfg, _ = prepare(StudyConfig(data="digits", train_sizes=(20, 50), recipes=("baseline",)))
    plain, _ = prepare(StudyConfig(data="digits", train_size=50, recipes=("baseline",)))
    assert cfg.val_size == plain.val_size == 300  # the default does not depend on the size
    assert cfg.train_size is None and cfg.train_sizes == (20, 50)
    assert cfg.data_info["train_sizes"] == [20, 50]
    assert cfg.data_info["sizes"] == {"train": 50, "val": 300, "test": 1447}
    with pytest.raises(ConfigError) as big:
        prepare(StudyConfig(data="digits", train_sizes=(20, 5000), recipes=("baseline",)))
    with pytest.raises(ConfigError) as same:
        rd.split(rd.load_dataset("digits"), train_size=5000, val_size=300)
    assert str(big.value) == str(same.value)  # the split's own message
    with pytest.raises(ConfigError, match="at least 10 \\(one sample per class\\)"):
        prepare(StudyConfig(data="digits", train_sizes=(5, 50), recipes=("baseline",)))


# -- storage -----------------------------------------------------------------------------------


def test_sized_cells_round_trip_through_storage(tmp_path: Path) -> None:
    store = CellStore(sqlite_url(tmp_path))
    cells = [Cell("baseline", 0, 500), Cell("baseline", 0, 50), Cell("dropout", 1)]
    assert store.create({"data": "iris"}, cells) == cells
    assert store.create({"data": "iris"}, cells) == []  # each sized cell is queued once
    attrs = [t.user_attrs["cell"] for t in store.optuna_study.get_trials(deepcopy=False)]
    assert attrs == [
        {"recipe": "baseline", "seed": 0, "train_size": 500},
        {"recipe": "baseline", "seed": 0, "train_size": 50},
        {"recipe": "dropout", "seed": 1},  # a cell without a size is stored as before
    ]
    claims = [store.lease() for _ in cells]
    assert [c.cell for c in claims if c] == cells
    for lease in claims:
        assert lease is not None
        store.complete(lease, {"val_acc": 0.5, "train_size": 7}, [])
    assert store.complete_counts_per_cell() == {
        "baseline/0@500": 1,
        "baseline/0@50": 1,
        "dropout/1": 1,
    }
    rows = store.completed()
    # The cell's size wins over what the result says; a cell without one keeps the result's.
    assert [(r["recipe"], r["seed"], r["train_size"]) for r in rows] == [
        ("baseline", 0, 50),
        ("baseline", 0, 500),
        ("dropout", 1, 7),
    ]


def test_a_study_stored_before_train_sizes_existed_resumes(tmp_path: Path) -> None:
    store = CellStore(sqlite_url(tmp_path))
    old = {"data": "iris", "seeds": 2}
    store.create(old, [Cell("baseline", 0)])
    # The same settings with the new key at its default (None) are the same study.
    assert CellStore(sqlite_url(tmp_path)).create({**old, "train_sizes": None}, []) == []
    with pytest.raises(ConfigError, match=r"different settings \(train_sizes\)"):
        CellStore(sqlite_url(tmp_path)).create({**old, "train_sizes": [20, 40]}, [])


# -- splits ------------------------------------------------------------------------------------


def test_nested_order_keeps_every_prefix_stratified() -> None:
    y = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
    order = nested_order(y, seed=3)
    assert sorted(order.tolist()) == list(range(100))
    assert torch.equal(order, nested_order(y, seed=3))  # seeded: the same order again
    assert not torch.equal(order, nested_order(y, seed=4))
    assert sorted(y[order[:3]].tolist()) == [0, 1, 2]  # every class once before any twice
    for n in (10, 20, 50, 100):
        counts = torch.bincount(y[order[:n]], minlength=3).tolist()
        expected = [0.6 * n, 0.3 * n, 0.1 * n]
        assert all(abs(c - e) <= 1 for c, e in zip(counts, expected)), (n, counts)
    plain = nested_order(torch.rand(50), seed=0, stratify=False)
    assert sorted(plain.tolist()) == list(range(50))


def test_val_and_test_rows_are_the_same_at_every_size() -> None:
    cfg, dataset = prepare(StudyConfig(data="digits", train_sizes=(20, 50, 120), **QUICK))
    cache = SplitCache()
    cache.keep(cfg.plan, dataset)
    for seed in (0, 1):
        largest = rd.split(dataset, train_size=120, val_size=30, seed=seed)
        previous = None
        for n in (120, 50, 20):
            sp = cache.splits(cfg.plan, seed, n)
            assert sp.sizes["train"] == n
            assert torch.equal(sp.val_index, largest.val_index)
            assert torch.equal(sp.test_index, largest.test_index)
            rows = set(sp.train_index.tolist())
            assert rows <= set(largest.train_index.tolist())
            if previous is not None:
                assert rows < previous  # nested: a smaller training set is inside a larger one
            previous = rows
            counts = torch.bincount(sp.train.y, minlength=10)
            assert int(counts.max() - counts.min()) <= 1  # digits' classes stay balanced
    assert (
        cache.splits(cfg.plan, 0, 20).val_index.tolist()
        != cache.splits(cfg.plan, 1, 20).val_index.tolist()
    )


def test_sized_splits_scale_on_their_own_training_rows() -> None:
    cfg, dataset = prepare(
        StudyConfig(data="wine", train_sizes=(20, 80), val_size=30, recipes=("baseline",))
    )
    cache = SplitCache()
    cache.keep(cfg.plan, dataset)
    small = cache.splits(cfg.plan, 0, 20)
    assert small.train.X.mean(0).abs().max() < 1e-5  # standardized with these 20 rows only
    assert small.val.X.mean(0).abs().max() > 1e-3


# -- outputs -----------------------------------------------------------------------------------


def test_sweep_study_writes_sizes_into_every_output(tmp_path: Path) -> None:
    cfg = StudyConfig(data="iris", train_sizes=(30, 60), **QUICK)
    outcome = run_study(cfg, tmp_path, jobs=1)
    assert (outcome.cells, outcome.done, outcome.failed_cells) == (8, 8, [])
    rows = _csv(tmp_path / "results.csv")
    assert list(rows[0])[:3] == ["recipe", "seed", "train_size"]
    assert [(r["train_size"], r["recipe"], r["seed"]) for r in rows][:3] == [
        ("30", "baseline", "0"),
        ("30", "baseline", "1"),
        ("30", "dropout", "0"),
    ]
    assert sorted({r["train_size"] for r in rows}) == ["30", "60"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["train_sizes"] == [30, 60]
    by_size = summary["by_train_size"]
    assert [b["train_size"] for b in by_size] == [30, 60]
    assert summary["recipes"] == by_size[-1]["recipes"]  # the main results: the largest size
    for block in by_size:
        n = str(block["train_size"])
        test = {
            (r["recipe"], int(r["seed"])): float(r["test_acc"])
            for r in rows
            if r["train_size"] == n
        }
        paired = block["recipes"][1]["vs_baseline"]  # dropout against the baseline, this size
        expected = [test[("dropout", s)] - test[("baseline", s)] for s in (0, 1)]
        assert paired["diffs"] == pytest.approx(expected)
        assert block["recipes"][0]["runs"] == 2
    page = (tmp_path / "report.html").read_text()
    assert '<h2>Training-size sweep</h2><img alt="Training-size sweep"' in page
    assert "train-validation gap (right) against the number of training examples" in page
    assert "<h2>Training sizes</h2>" in page and "train 30, 60 / val 30" in page
    table = summary_table(outcome.rows)
    assert table[0].split()[:2] == ["n", "recipe"]
    assert [line.split()[:2] for line in table[2:]] == [
        ["30", "baseline"],
        ["30", "dropout"],
        ["60", "baseline"],
        ["60", "dropout"],
    ]
    # Rerunning the same study resumes: every sized cell is done.
    again = run_study(StudyConfig(data="iris", train_sizes=(30, 60), **QUICK), tmp_path, jobs=1)
    assert (again.ran, again.done) == (0, 8)


def test_a_single_size_study_keeps_its_summary_and_gains_the_column(tmp_path: Path) -> None:
    run_study(StudyConfig(data="iris", train_size=0.4, **QUICK), tmp_path, jobs=1)
    rows = _csv(tmp_path / "results.csv")
    assert {r["train_size"] for r in rows} == {"60"}  # the fraction, as the rows it became
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "by_train_size" not in summary and "train_sizes" not in summary
    assert [s["recipe"] for s in summary["recipes"]] == ["baseline", "dropout"]
    assert "Training-size sweep" not in (tmp_path / "report.html").read_text()


def test_rows_stored_without_a_size_get_the_studys(tmp_path: Path) -> None:
    config = {"recipes": ["baseline"], "data_info": {"sizes": {"train": 89, "val": 44}}}
    rows = [{"recipe": "baseline", "seed": s, "test_acc": 0.9, "val_acc": 0.9} for s in (0, 1)]
    write_outputs(tmp_path, config, rows)
    assert [r["train_size"] for r in _csv(tmp_path / "results.csv")] == ["89", "89"]
