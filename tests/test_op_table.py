"""docs/ops.md is generated from the op registry; this keeps it from going stale."""

from pathlib import Path

from dagrad.ops.coverage import COMMAND, coverage_rows, markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "ops.md"


def test_docs_table_is_current():
    assert DOC.exists(), f"{DOC} is missing; generate it with `{COMMAND}`"
    assert DOC.read_text(encoding="utf-8") == markdown(), f"docs/ops.md is stale; regenerate it with `{COMMAND}`"


def test_one_row_per_registered_op():
    from dagrad.autograd import REGISTRY

    rows = coverage_rows()
    assert sorted(r.op for r in rows) == sorted(REGISTRY)
    assert all(r.vjp or not REGISTRY[r.op].differentiable for r in rows)
