"""Capped exponential backoff for reconnecting to the broker."""

import random


def backoff_delay(attempt, minimum, maximum):
    """Return the delay in seconds before reconnection attempt number attempt.

    attempt counts from 1. The delay doubles from minimum on each attempt and
    is capped at maximum.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    exponent = min(attempt - 1, 62)
    return min(maximum, minimum * (2**exponent))


def jittered(delay, rng=random):
    """Return delay scaled by a random factor in [0.5, 1.0].

    Engines that lost the same broker then do not all reconnect at the same
    instant when it comes back.
    """
    return delay * rng.uniform(0.5, 1.0)  # noqa: S311 (not for security)
