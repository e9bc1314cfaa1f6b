"""The seed's data plan: exact row count, power-law skew, and valid COPY text."""

from __future__ import annotations

from ops.demo.seed import SeedPlan, answer_chunks, split_couples


def test_plan_is_exact_and_skewed() -> None:
    plan = SeedPlan.build(100_000)
    assert sum(plan.counts) == 100_000
    mean = 100_000 / len(plan.counts)
    assert max(plan.counts) >= 2000  # some couples have thousands of answers
    assert sorted(plan.counts)[len(plan.counts) // 2] < mean / 2  # most have few
    assert max(plan.counts) <= 2 * plan.questions  # each (couple, question, user) at most once


def test_plan_is_deterministic_per_seed() -> None:
    assert SeedPlan.build(5000, seed=1) == SeedPlan.build(5000, seed=1)
    assert SeedPlan.build(5000, seed=1) != SeedPlan.build(5000, seed=2)


def test_split_covers_every_couple_once_with_balanced_rows() -> None:
    plan = SeedPlan.build(50_000)
    parts = split_couples(plan, 2)
    covered = [i for r in parts for i in r]
    assert covered == list(range(len(plan.counts)))
    sizes = [sum(plan.counts[i] for i in r) for r in parts]
    assert max(sizes) < 0.7 * sum(sizes)


def test_rows_have_unique_keys_and_twelve_fields() -> None:
    plan = SeedPlan.build(3000)
    seen: set[tuple[str, str, str]] = set()
    ids: list[int] = []
    for r in split_couples(plan, 3):
        for chunk, count in answer_chunks(plan, 42, r):
            lines = chunk.splitlines()
            assert len(lines) == count
            for line in lines:
                fields = line.split("\t")
                assert len(fields) == 12
                seen.add((fields[1], fields[2], fields[3]))
                ids.append(int(fields[0]))
    assert len(seen) == 3000
    assert sorted(ids) == list(range(1, 3001))
