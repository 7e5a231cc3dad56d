import pytest

from queueing.wait_estimate import expected_wait_minutes

FIVE_MIN = [300_000] * 5  # five recent calls, 5 min of desk time each


@pytest.mark.parametrize(("position", "times", "desks", "expected"), [
    (1, FIVE_MIN, 1, 5),          # one call ahead of nobody: 5 min
    (2, FIVE_MIN, 1, 10),
    (2, FIVE_MIN, 2, 5),          # two desks share the line
    (3, FIVE_MIN, 4, 4),          # 3.75 min rounds up
    (1, [20_000] * 5, 1, None),   # 20 s: "stay on the line" says it better
    (1, FIVE_MIN[:4], 1, None),   # too few calls to trust the mean
    (1, FIVE_MIN, 0, None),       # nobody logged in: no promise
    (0, FIVE_MIN, 1, None),
    (4, FIVE_MIN, 1, None),       # 20 min: beyond what the prompts can say (15)
])
def test_expected_wait(position, times, desks, expected):
    assert expected_wait_minutes(position, times, desks, max_minutes=15) == expected
