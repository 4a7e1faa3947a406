import os
import platform

import pytest


def pytest_addoption(parser):
    parser.addoption("--bench-rows", type=int, default=1_000_000,
                     help="rows in the generated benchmark inputs (README numbers use 10,000,000)")
    parser.addoption("--bench-rows-big", type=int, default=0,
                     help="rows of the big streaming benchmark (e.g. 100000000); it is skipped unless given")


@pytest.fixture(scope="session")
def bench_rows(request):
    return request.config.getoption("--bench-rows")


@pytest.fixture(scope="session")
def bench_rows_big(request):
    return request.config.getoption("--bench-rows-big")


@pytest.fixture(scope="session", autouse=True)
def _engines_imported():
    """Import the engines once, before any timing, so no timed round pays for an import."""
    import duckdb  # noqa: F401
    import polars  # noqa: F401
    import pyarrow.compute  # noqa: F401
    import pyarrow.parquet  # noqa: F401


def pytest_benchmark_update_machine_info(config, machine_info):
    """CPU model, usable cores and memory, next to pytest-benchmark's own machine info."""
    from dcb_fast.tools.benchmark import machine

    machine_info["dcb_machine"] = machine()
    versions = {}
    for name in ("dcb_fast", "duckdb", "polars", "pyarrow", "numpy", "numba"):
        try:
            versions[name] = __import__(name).__version__
        except (ImportError, AttributeError):
            versions[name] = None
    machine_info["dcb_versions"] = versions
    machine_info["dcb_load_average"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    machine_info["dcb_platform"] = platform.platform()
