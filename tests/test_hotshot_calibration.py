"""seqlab's committee rounds reproduce the published HotShot view times and latencies."""
import pytest

from seqlab.experiments.hotshot import (BLOCK_BYTES, DOPPIO, RELAY_MBPS, VIEW_OVERHEAD_S,
                                        hotshot_table, log_error, markdown, view_time_s)


@pytest.fixture(scope="module")
def table():
    return hotshot_table()


def test_view_times_within_a_third_of_the_published(table):
    for row in table:
        assert row["seqlab_view_s"] == pytest.approx(row["published_view_s"], rel=0.35), row


def test_latencies_within_a_factor_two(table):
    for row in table:
        assert 0.5 <= row["seqlab_latency_s"] / row["published_latency_s"] <= 2.0, row


def test_views_grow_with_nodes_and_block_size(table):
    views = [row["seqlab_view_s"] for row in table]
    assert views[1:] == sorted(views[1:]) and views[-1] > 3 * views[1]
    assert view_time_s(1000, BLOCK_BYTES / 5) < view_time_s(1000, BLOCK_BYTES) - 2.0


def test_small_blocks_keep_views_about_a_second_at_any_size():
    """Doppio: about 1 s from 10 to 1,000 nodes when little data goes to every node."""
    views = [view_time_s(nodes, 50_000) for nodes, _ in DOPPIO]
    assert max(views) - min(views) < 0.1
    for (_, published), ours in zip(DOPPIO, views):
        assert ours == pytest.approx(published, rel=0.35)


def test_the_fitted_constants_are_the_grid_optimum():
    here = log_error(RELAY_MBPS, VIEW_OVERHEAD_S)
    for bw, overhead in ((RELAY_MBPS - 250, VIEW_OVERHEAD_S), (RELAY_MBPS + 250, VIEW_OVERHEAD_S),
                         (RELAY_MBPS, VIEW_OVERHEAD_S - 0.01), (RELAY_MBPS, VIEW_OVERHEAD_S + 0.01)):
        assert here <= log_error(bw, overhead)


def test_markdown_has_a_row_per_size(table):
    text = markdown(table)
    assert text.count("\n") == len(table) + 1
    assert "| 1000 | 5.56 |" in text
