import pytest


def pytest_addoption(parser):
    parser.addoption("--bench-rows", type=int, default=1_000_000,
                     help="rows in the generated benchmark log (README numbers use 10,000,000)")


@pytest.fixture(scope="session")
def bench_rows(request):
    return request.config.getoption("--bench-rows")
