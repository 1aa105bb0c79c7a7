from __future__ import annotations

import itertools

import pytest

from jetsentry.infer.run_plan import plan_runs


def _frames(runs) -> list[int]:
    return [frame for run in runs for frame in range(run.start, run.stop)]


def test_single_frame_runs_on_the_all_core_session():
    plan = plan_runs(1, chunk=1, parallel=2)
    assert plan.concurrent == ()
    assert plan.after == (slice(0, 1),)


def test_static_chunks_are_shared_between_workers():
    plan = plan_runs(4, chunk=1, parallel=2)
    assert plan.concurrent == ((slice(0, 1), slice(1, 2)), (slice(2, 3), slice(3, 4)))
    assert plan.after == ()


def test_frames_that_do_not_divide_evenly_run_afterwards():
    plan = plan_runs(3, chunk=1, parallel=2)
    assert plan.concurrent == ((slice(0, 1),), (slice(1, 2),))
    assert plan.after == (slice(2, 3),)


def test_dynamic_model_runs_each_group_as_one_call():
    assert plan_runs(4, chunk=None, parallel=2).concurrent == ((slice(0, 2),), (slice(2, 4),))
    plan = plan_runs(5, chunk=None, parallel=2)
    assert plan.concurrent == ((slice(0, 2),), (slice(2, 4),))
    assert plan.after == (slice(4, 5),)


def test_static_chunks_keep_their_size_and_the_short_one_comes_last():
    plan = plan_runs(5, chunk=2, parallel=2)
    assert plan.concurrent == ((slice(0, 2),), (slice(2, 4),))
    assert plan.after == (slice(4, 5),)


def test_no_more_workers_than_units():
    plan = plan_runs(2, chunk=None, parallel=4)
    assert plan.concurrent == ((slice(0, 1),), (slice(1, 2),))


def test_without_parallel_runs_everything_goes_to_the_all_core_session():
    assert plan_runs(4, chunk=None, parallel=1).after == (slice(0, 4),)
    assert plan_runs(3, chunk=2, parallel=1).after == (slice(0, 2), slice(2, 3))


@pytest.mark.parametrize("batch, chunk, parallel", list(itertools.product(range(1, 10), [None, 1, 2, 3], [1, 2, 3, 4])))
def test_every_frame_is_run_exactly_once(batch, chunk, parallel):
    plan = plan_runs(batch, chunk, parallel)
    groups = [list(group) for group in plan.concurrent]
    assert sorted(_frames([run for group in groups for run in group]) + _frames(plan.after)) == list(range(batch))
    assert len(groups) <= parallel
    # Concurrent workers get equal shares: a dynamic model's frames, a static model's runs (a short chunk is padded).
    assert len({len(_frames(group)) if chunk is None else len(group) for group in groups}) <= 1
    for run in [run for group in groups for run in group] + list(plan.after):
        assert run.stop - run.start <= (chunk or batch)


@pytest.mark.parametrize("batch, parallel", [(0, 2), (2, 0)])
def test_rejects_empty_batch_and_zero_workers(batch, parallel):
    with pytest.raises(ValueError, match="must be (>= 1|an integer from 1)"):
        plan_runs(batch, None, parallel)
