"""ProfileSeries: resampling to the tick, windows, year alignment and wrap-around."""

import numpy as np
import pandas as pd
import pytest

from evgrid_gym.data.series import ProfileSeries


def _year(start="2016-01-01", freq="15min", periods=366 * 96, tz="UTC"):
    index = pd.date_range(start, periods=periods, freq=freq, tz=tz)
    return pd.Series(np.arange(periods, dtype=float), index=index)


def test_window_inside_the_series_is_read_in_place():
    series = ProfileSeries(_year(), 0.25, "t")
    start = pd.Timestamp("2016-03-01 06:00", tz="UTC")
    expected = (start - pd.Timestamp("2016-01-01", tz="UTC")) / pd.Timedelta("15min")
    np.testing.assert_array_equal(series.window(start, 4), expected + np.arange(4))


def test_other_years_read_the_same_date_and_time_of_the_covered_year():
    series = ProfileSeries(_year(), 0.25, "t")
    # 2019-07-15 00:00 in Amsterdam is 2019-07-14 22:00 UTC -> 2016-07-14 22:00 UTC
    start = pd.Timestamp("2019-07-15", tz="Europe/Amsterdam")
    offset = pd.Timestamp("2016-07-14 22:00", tz="UTC") - pd.Timestamp("2016-01-01", tz="UTC")
    expected = offset / pd.Timedelta("15min") + np.arange(3)
    np.testing.assert_array_equal(series.window(start, 3), expected)


def test_29_february_is_read_from_28_february_of_a_non_leap_year():
    series = ProfileSeries(_year("2019-01-01", periods=365 * 96), 0.25, "t")
    got = series.window(pd.Timestamp("2020-02-29", tz="UTC"), 1)
    assert got[0] == (31 + 27) * 96  # 28 February 2019, 00:00


def test_a_window_past_the_end_wraps_to_the_beginning():
    series = ProfileSeries(_year("2019-01-01", periods=365 * 96), 0.25, "t")
    got = series.window(pd.Timestamp("2019-12-31 23:30", tz="UTC"), 4)
    np.testing.assert_array_equal(got, [365 * 96 - 2, 365 * 96 - 1, 0, 1])


def test_hourly_values_hold_over_their_hour_and_15_min_means_aggregate():
    hourly = _year("2020-01-01", freq="1h", periods=48)
    fine = ProfileSeries(hourly, 0.25, "prices")
    np.testing.assert_array_equal(fine.window(pd.Timestamp("2020-01-01", tz="UTC"), 8),
                                  [0, 0, 0, 0, 1, 1, 1, 1])  # fmt: skip
    coarse = ProfileSeries(_year("2020-01-01", periods=8), 1.0, "load")
    np.testing.assert_array_equal(coarse.window(pd.Timestamp("2020-01-01", tz="UTC"), 2),
                                  [1.5, 5.5])  # fmt: skip


def test_an_empty_series_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        ProfileSeries(pd.Series([], dtype=float, index=pd.DatetimeIndex([], tz="UTC")), 0.25, "x")
