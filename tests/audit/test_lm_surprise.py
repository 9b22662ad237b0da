"""Language-model surprise: the posting model's bits per token for each posted scheme.

The model is the one tests/training/test_train_decode.py makes: the tiny model with a LoRA
adapter trained by ``ledgerpilot train`` on the narrow task (three short posted documents),
after which it answers their schemes exactly. Trained once here (about 30 s on one thread)
and shared by the tests that need it; the others need no model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from ledgerpilot.audit.lm_surprise import (
    Distribution,
    LineBits,
    LMSurpriseSettings,
    SchemeScorer,
    Surprisal,
    choose,
    judge,
    percentile,
)
from ledgerpilot.audit.model import AuditSettings
from ledgerpilot.connectors import ReferenceAIS
from ledgerpilot.ledger import ChartOfAccounts, Document

from ..training.test_train_decode import (
    base_model,
    narrow,
    one_thread,  # noqa: F401  (autouse: one torch thread)
    train_with_the_cli,
)
from .isolated import run_script
from .journal import clean

__all__ = ["base_model", "narrow"]  # fixtures used by the tests below

ROOT = Path(__file__).resolve().parents[2]
INTEREST, DEPRECIATION = "473000", "431000"
"""The expense account of the narrow task's "other" document, and the one swapped in."""


def swapped(document: Document, old: str, new: str) -> Document:
    """``document`` with its entry's lines on ``old`` posted to ``new`` instead."""
    entry = document.entry
    assert entry is not None
    lines = tuple(
        dataclasses.replace(ln, account=new) if ln.account == old else ln for ln in entry.lines
    )
    assert lines != entry.lines
    return dataclasses.replace(document, entry=dataclasses.replace(entry, lines=lines))


@pytest.fixture(scope="module")
def adapter(
    base_model: Path,
    narrow: tuple[list[Document], ChartOfAccounts],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The narrow task's LoRA adapter, trained with ``ledgerpilot train`` as in test_train_decode."""
    documents, chart = narrow
    report = train_with_the_cli(base_model, documents, chart, tmp_path_factory.mktemp("lm"))
    assert report["final_loss"] < 0.1
    return Path(report["adapter_dir"])


@pytest.fixture(scope="module")
def scorer(base_model: Path, adapter: Path) -> SchemeScorer:
    return SchemeScorer(base_model, [adapter], device="cpu")


def test_the_learned_scheme_costs_far_fewer_bits_than_a_swapped_expense_account(
    scorer: SchemeScorer, narrow: tuple[list[Document], ChartOfAccounts]
) -> None:
    documents, chart = narrow
    other = documents[2]
    assert other.kind == "other"
    wrong = swapped(other, INTEREST, DEPRECIATION)
    learned, changed = scorer.score([(other, ()), (wrong, ())], chart)
    assert [str(line) for line in learned.lines] == [
        f"account {INTEREST} debit 35.86",
        "account 232000 credit 35.86",
    ]
    assert [line.account for line in changed.lines] == [DEPRECIATION, "232000"]
    # the same scored tokens (codes of six digits each): only the posting differs
    assert learned.tokens == changed.tokens < learned.answer_tokens
    # Learnt by heart: a fraction of a bit per token, and per account code. The swapped
    # code costs many bits, and the mean over the scheme rises many times over too.
    assert learned.per_token < 0.2
    assert changed.per_token > 5 * learned.per_token
    assert changed.worst_line is not None and changed.worst_line.account == DEPRECIATION
    assert changed.line_bits > 10.0 > 1.0 > learned.line_bits
    assert changed.lines[1].bits < 1.0  # the line left alone still costs next to nothing


def test_scores_are_the_model_s_own_log_probabilities_whatever_the_batch(
    scorer: SchemeScorer, narrow: tuple[list[Document], ChartOfAccounts]
) -> None:
    """The output layer applied only at the scored positions, with right padding in a batch,
    gives the bits of a plain forward pass over one sequence."""
    documents, chart = narrow
    together = scorer.score([(d, ()) for d in documents], chart)
    encoded = scorer.encode(documents[1], chart)
    ids = torch.tensor([encoded.ids])
    with torch.inference_mode():
        logp = torch.log_softmax(scorer.model(input_ids=ids).logits[0].float(), dim=-1)
    expected = sum(-logp[p - 1, encoded.ids[p]].item() / math.log(2) for p in encoded.scored)
    assert together[1].bits == pytest.approx(expected, rel=1e-4, abs=1e-4)
    alone = scorer.score([(documents[1], ())], chart)[0]
    assert alone.bits == pytest.approx(together[1].bits, rel=1e-4, abs=1e-4)
    assert alone.tokens == together[1].tokens == len(encoded.scored)


def test_audit_with_lm_model_ranks_the_swapped_entry_first(
    base_model: Path,
    adapter: Path,
    narrow: tuple[list[Document], ChartOfAccounts],
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from ledgerpilot.cli import app

    documents, chart = narrow
    posted = [*documents[:2], swapped(documents[2], INTEREST, DEPRECIATION)]
    url = f"sqlite:///{tmp_path / 'ais.sqlite'}"
    with ReferenceAIS.create(url) as ais:
        assert ais.load(posted, chart=chart).inserted == 3
    args = ["audit", "--ais", url, "--out", str(tmp_path / "report"), "--json"]
    plain = CliRunner().invoke(app, args)
    assert plain.exit_code == 0, plain.output
    before = json.loads(plain.stdout)
    assert "lm_surprise" not in before["checks"]
    lm = ["--lm-model", str(base_model), "--lm-adapter", str(adapter)]
    done = CliRunner().invoke(app, [*args, *lm])
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    summary = body["checks"]["lm_surprise"]
    assert (summary["fired"], summary["scored"], summary["reference"]) == (1, 3, 3)
    assert summary["model"] == "tiny-qwen2-fan-in+adapter"
    first = body["findings"][0]
    assert first["document"] == documents[2].id
    reason = next(r for r in first["reasons"] if r["check"] == "lm_surprise")
    assert reason["detail"].startswith(
        f"the posting model found this line very unlikely: account {DEPRECIATION} debit 35.86, "
    )
    assert "odds below 1 in a million" in reason["detail"]
    assert "(3 entries scored)" in reason["detail"]
    others = [f for f in body["findings"] if f["document"] != documents[2].id]
    assert all(r["check"] != "lm_surprise" for f in others for r in f["reasons"])
    score_before = {f["document"]: f["score"] for f in before["findings"]}
    assert first["score"] > score_before.get(documents[2].id, 0.0)


def test_without_a_model_the_check_is_absent_and_nothing_heavy_is_imported(
    narrow: tuple[list[Document], ChartOfAccounts], tmp_path: Path
) -> None:
    documents, chart = narrow
    url = f"sqlite:///{tmp_path / 'ais.sqlite'}"
    with ReferenceAIS.create(url) as ais:
        ais.load(documents, chart=chart)
    script = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from ledgerpilot.cli import app\n"
        "runs = [CliRunner().invoke(app, ['audit', '--ais', sys.argv[1], '--out', sys.argv[2],"
        " '--json', *extra]) for extra in ([], ['--lm-model', sys.argv[3], '--lm-limit', '0'])]\n"
        "print(json.dumps({'codes': [r.exit_code for r in runs],"
        " 'checks': [sorted(json.loads(r.stdout)['checks']) for r in runs],"
        " 'heavy': sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules)}))\n"
    )
    seen = run_script(
        script,
        url,
        str(tmp_path / "out"),
        str(tmp_path / "no-model"),
        cwd=tmp_path,
        drop_env="LEDGERPILOT_LOCAL_",
    )
    assert seen["codes"] == [0, 0]
    assert all("lm_surprise" not in checks and "benford" in checks for checks in seen["checks"])
    assert seen["heavy"] == []


# ------------------------------------------------------------ without a model


def test_distribution_and_judgement_by_hand() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.99) == pytest.approx(4.0 + 0.96 * 96.0)
    dist = Distribution.of(values, min_spread=0.1)
    # deviations from the median 3: 2, 1, 0, 1, 97 -> MAD 1
    assert (dist.median, dist.spread) == (3.0, pytest.approx(1.4826))
    assert dist.z(100.0) == pytest.approx(97 / 1.4826)
    flat = Distribution.of([0.5, 0.5, 0.5, 0.9], min_spread=1.0)
    assert flat.spread == 1.0  # MAD 0: the floor, so 0.9 is no outlier (z 0.4)

    def surprisal(doc: str, bits: float) -> Surprisal:
        line = LineBits("4000", "1234.50", "0.00", bits)
        return Surprisal(
            doc, bits + 10.0, 40, (line, LineBits("2200", "0.00", "1234.50", 0.5)), 90, 300
        )

    scores = [surprisal(f"D{n}", v) for n, v in enumerate([1.0, 2.0, 3.0, 4.0, 12.0])]
    reference = frozenset(s.document for s in scores)
    reasons, judged = judge(scores, reference, LMSurpriseSettings(), AuditSettings())
    # worst accounts 1, 2, 3, 4, 12 bits: median 3, MAD 1, 99th percentile 4 + 0.96 * 8
    assert judged is not None
    assert (judged.count, judged.median, judged.p99, judged.spread) == (
        5,
        3.0,
        pytest.approx(11.68),
        pytest.approx(1.4826),
    )
    assert list(reasons) == ["D4"]  # z = 9 / 1.4826 = 6.07
    assert reasons["D4"].detail == (
        "the posting model found this line very unlikely: account 4000 debit 1234.50, 12.0 "
        "bits (odds of 1 in 4,096); the most unlikely account of the period's entries costs "
        "3.0 bits at the median, 11.7 at the 99th percentile (5 entries scored); 0.55 bits per "
        "token over the whole scheme"
    )
    assert reasons["D4"].weight == pytest.approx(2.0 * 1.5)  # z / 3.5 = 1.73: the cap
    # judged against the reference only: D4 alone, without a distribution, is no finding
    assert judge(scores, frozenset({"D4"}), LMSurpriseSettings(), AuditSettings()) == ({}, None)


def test_choose_takes_the_ranking_s_top_and_a_sample_that_alone_is_the_reference() -> None:
    journal = clean(30)  # D0..D29, weekly invoices of one supplier
    since = journal[10].date
    period = {d.id for d in journal[10:]}
    settings = LMSurpriseSettings(limit=6)
    chosen = choose(journal, since, ["D25", "D3", "D29", "D12"], settings)
    assert chosen.period == 20
    ids = [d.id for d, _ in chosen.items]
    # top: the first limit // 2 = 3 of the ranking that fall in the period (D3 does not)
    assert ids[:2] == ["D25", "D29"] and len(ids) == 6 and len(set(ids)) == 6
    assert chosen.reference == frozenset(ids[2:]) and chosen.reference <= period - {"D25", "D29"}
    # each with the latest earlier document of its partner and kind as its example
    examples = {d.id: shown for d, shown in chosen.items}
    assert [e.id for e in examples["D25"]] == ["D24"]
    assert chosen == choose(journal, since, ["D25", "D3", "D29", "D12"], settings)  # seeded
    everything = choose(journal, since, ["D25"], LMSurpriseSettings(limit=20, examples=2))
    assert everything.reference == frozenset(period) and everything.period == 20
    assert [e.id for e in everything.items[0][1]] == ["D9", "D8"]  # D10's, latest first
