#!/usr/bin/env python3
"""Reference values for the almasql domain functions from independent,
trusted implementations. Writes reference.json next to this script.

Sources:
  * astropy (ERFA): MJD, local mean sidereal time (IAU 2006), apparent hour
    angle (HADec frame) and elevation (AltAz frame, no refraction), and the
    geodetic coordinates of the ALMA ITRF position. IERS downloads are off
    and UT1 is set equal to UTC (delta_ut1_utc = 0), as the functions assume.
  * scipy.stats.chi2.ppf: exact (Garwood) Poisson confidence limits.
  * scipy.stats.median_abs_deviation / numpy: MAD and robust z-scores.
  * pandas Series.ewm(adjust=False, ignore_na=True): EWMA.
  * scipy.stats.linregress: least-squares slope (drift per day).
  * numpy brute force: the least-squares single change point.
  * the ALMA notebook's per_var, literally, with itertools.combinations.
  * Python's datetime: the ACS epoch offset.

Run:  python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install astropy scipy numpy pandas
      /tmp/refvenv/bin/python udfs/tests/reference/make_reference.py
Tests read reference.json only; Python is not needed to run them.
"""

import datetime as dt
import itertools
import json
import pathlib
import warnings

import numpy as np
import pandas as pd
import scipy
from scipy import stats

import astropy
import astropy.units as u
from astropy.utils import iers

iers.conf.auto_download = False
from astropy.coordinates import AltAz, EarthLocation, HADec, SkyCoord  # noqa: E402
from astropy.time import Time  # noqa: E402

warnings.simplefilter("ignore")  # astropy's "dubious year" and IERS notes

rng = np.random.RandomState(20240601)
OUT = pathlib.Path(__file__).with_name("reference.json")

# ALMA array reference position as CASA writes it (OBSGEO-X/Y/Z), ITRF m.
ALMA_XYZ = (2225142.180269, -5440307.370349, -2481029.851874)
site = EarthLocation.from_geocentric(*ALMA_XYZ, unit=u.m)
geo = site.to_geodetic("WGS84")


def utc(iso):
    t = Time(iso, scale="utc")
    t.delta_ut1_utc = 0.0  # UT1 = UTC
    return t


def micros(t):
    """Microseconds since the Unix epoch of an astropy UTC time."""
    unix = (t - Time("1970-01-01T00:00:00", scale="utc")).to_value(u.day)
    return int(round(unix * 86_400_000_000))


def iso_micros(iso):
    d = dt.datetime.fromisoformat(iso).replace(tzinfo=dt.timezone.utc)
    return int(round((d - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds() * 1e6))


# Instants from 1990 to 2030 at random seconds, plus fixed ones.
fixed = ["1987-04-10T00:00:00", "1987-04-10T19:21:00", "2000-01-01T12:00:00",
         "2024-01-01T00:00:00", "2024-06-01T06:00:00"]
start = dt.datetime(1990, 1, 1)
random_isos = [
    (start + dt.timedelta(seconds=int(s))).isoformat()
    for s in rng.randint(0, 40 * 365 * 86400, size=40)
]
isos = fixed + random_isos

mjd_rows = []
lst_rows = []
for iso in isos:
    t = utc(iso)
    us = iso_micros(iso)
    mjd_rows.append({"iso": iso, "micros": us, "mjd": float(t.mjd)})
    for lon in (float(geo.lon.deg), 0.0, 123.456):
        lst = t.sidereal_time("mean", longitude=lon * u.deg, model="IAU2006").hour
        lst_rows.append({"micros": us, "longitude": lon, "lst_hours": float(lst)})

# Apparent hour angle and elevation of ICRS sources (no refraction).
apparent_rows = []
sources = [(291.2127, -29.2417), (83.6331, 22.0145), (0.0, -89.0), (350.5, 10.0),
           (187.2779, 2.0524), (30.0, -60.0)]
for iso in isos[3:25]:
    t = utc(iso)
    for ra, dec in sources:
        c = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
        hadec = c.transform_to(HADec(obstime=t, location=site, pressure=0 * u.hPa))
        altaz = c.transform_to(AltAz(obstime=t, location=site, pressure=0 * u.hPa))
        apparent_rows.append({
            "micros": iso_micros(iso), "ra": ra, "dec": dec,
            "ha_hours": float(hadec.ha.wrap_at(180 * u.deg).hour),
            "elevation_deg": float(altaz.alt.deg),
        })

# Garwood intervals from chi-square quantiles.
poisson_rows = []
for k in [0, 1, 2, 3, 5, 10, 17, 50, 123, 1000]:
    for exposure in (1.0, 7.5):
        for conf in (0.68, 0.9, 0.95, 0.99):
            a = 1 - conf
            lower = 0.0 if k == 0 else stats.chi2.ppf(a / 2, 2 * k) / 2
            upper = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2
            poisson_rows.append({"events": k, "exposure": exposure, "confidence": conf,
                                 "rate": k / exposure, "lower": lower / exposure,
                                 "upper": upper / exposure})

# Robust statistics on random groups.
mad_groups = []
for n in [1, 2, 3, 4, 7, 10, 51, 200]:
    values = np.round(rng.normal(10.0, 2.0, size=n) + rng.standard_cauchy(size=n) * 0.1, 6)
    med = float(np.median(values))
    mad = float(stats.median_abs_deviation(values, scale=1.0))
    z = [None if mad == 0 else float((v - med) / (1.4826 * mad)) for v in values]
    mad_groups.append({"values": values.tolist(), "mad": mad, "robust_z": z})

# EWMA: pandas with adjust=False (the recursive form).
ewma_cases = []
for alpha in (0.1, 0.3, 1.0):
    values = np.round(rng.normal(0.0, 1.0, size=60).cumsum(), 6)
    s = pd.Series(values).ewm(alpha=alpha, adjust=False, ignore_na=True).mean()
    ewma_cases.append({"alpha": alpha, "values": values.tolist(), "ewma": s.tolist()})

# Tabular CUSUM (Page): literal recursion.
cusum_cases = []
values = np.round(np.concatenate([rng.normal(10, 1, 30), rng.normal(11.5, 1, 30)]), 6)
hi = lo = 0.0
upper, lower = [], []
for x in values:
    hi = max(0.0, hi + x - 10.0 - 0.5)
    lo = max(0.0, lo + 10.0 - 0.5 - x)
    upper.append(hi)
    lower.append(lo)
cusum_cases.append({"target": 10.0, "k": 0.5, "values": values.tolist(),
                    "upper": upper, "lower": lower})

# Drift slopes per day (scipy linregress on days since the first sample).
drift_groups = []
for g in range(6):
    n = int(rng.randint(3, 80))
    t0 = 1_700_000_000_000_000 + g * 10**12
    offsets = np.sort(rng.randint(0, 30 * 86_400_000_000, size=n)).astype(np.int64)
    t = t0 + offsets
    slope_true = rng.normal(0, 0.05)
    v = np.round(5.0 + slope_true * offsets / 86_400e6 + rng.normal(0, 0.01, size=n), 6)
    res = stats.linregress(offsets / 86_400e6, v)
    drift_groups.append({"micros": t.tolist(), "values": v.tolist(), "slope": float(res.slope)})


# Single change point: brute-force least-squares split.
def ls_split(v):
    best = None
    for k in range(1, len(v)):
        sse = ((v[:k] - v[:k].mean()) ** 2).sum() + ((v[k:] - v[k:].mean()) ** 2).sum()
        if best is None or sse < best[0] - 1e-12 * abs(best[0]):
            best = (sse, k)
    return best[1]


change_cases = []
for n, at, shift in [(50, 31, 0.8), (120, 17, -1.5), (12, 6, 3.0), (300, 250, 0.4)]:
    v = np.round(rng.normal(0, 0.3, size=n) + np.where(np.arange(n) >= at, shift, 0.0), 6)
    t = 1_709_251_200_000_000 + np.arange(n, dtype=np.int64) * 3_600_000_000
    k = ls_split(v)
    change_cases.append({"micros": t.tolist(), "values": v.tolist(), "changepoint_micros": int(t[k])})


# The ALMA notebook's per_var, literally.
def per_var(values):
    per = [abs(100 * a / (b - 100)) for a, b in itertools.combinations(values, 2)]
    return (float(np.mean(per)) if per else None), len(per)


per_var_cases = []
for n in [0, 1, 2, 3, 10, 40]:
    values = np.round(rng.uniform(20, 95, size=n), 4).tolist()
    mean, pairs = per_var(values)
    per_var_cases.append({"values": values, "mean": mean, "pairs": pairs})

acs_offset = (dt.datetime(1970, 1, 1) - dt.datetime(1582, 10, 15)).days * 86400 * 10**7

reference = {
    "generated_by": "udfs/tests/reference/make_reference.py",
    "versions": {"astropy": astropy.__version__, "scipy": scipy.__version__,
                 "numpy": np.__version__, "pandas": pd.__version__},
    "site": {"itrf_m": list(ALMA_XYZ), "longitude_deg": float(geo.lon.deg),
             "latitude_deg": float(geo.lat.deg), "height_m": float(geo.height.to_value(u.m))},
    "acs_unix_epoch_offset": acs_offset,
    "mjd": mjd_rows,
    "lst": lst_rows,
    "apparent": apparent_rows,
    "poisson": poisson_rows,
    "mad": mad_groups,
    "ewma": ewma_cases,
    "cusum": cusum_cases,
    "drift": drift_groups,
    "changepoint": change_cases,
    "per_var": per_var_cases,
}
OUT.write_text(json.dumps(reference, indent=1) + "\n")
print(f"wrote {OUT}")
