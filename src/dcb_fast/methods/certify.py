"""Certify: build a certificate from a labelled calibration table (SPEC section 4).

The certificate's content and file format are in :mod:`dcb_fast.fibers.certificate`; the
:class:`Certificate` here adds :meth:`Certificate.coverage`, checking a production log against it.
"""

from __future__ import annotations

from ..core.rules import Rule, parse_rule
from ..errors import DcbError
from ..fibers.certificate import CLASSES, FiberCertificate, KeyIndex  # noqa: F401  (the public names)
from .audit import audit
from .coverage import coverage


class Certificate(FiberCertificate):
    """A certificate (see :class:`~dcb_fast.fibers.certificate.FiberCertificate`) that can check
    production traffic against itself."""

    def coverage(self, source, **kwargs):
        """Stream a production log against this certificate; see :func:`dcb_fast.coverage`."""
        return coverage(self, source, **kwargs)



def certify(source, evidence, action, weight=None, min_support: int = 1, nulls: str = "drop", rules=None,
            **kwargs) -> Certificate:
    """Build a certificate from a labelled calibration table (the benchmark, or a labelled sample).

    Same inputs as :func:`dcb_fast.audit`; per fiber, the certificate says certified(action) /
    ambiguous / thin under ``min_support``.

    >>> import pyarrow as pa
    >>> t = pa.table({"lang": ["en", "en", "fr", "de"], "route": ["a", "b", "a", "a"]})
    >>> cert = certify(t, ["lang"], "route")
    >>> cert.describe()["fibers"]
    {'certified': 2, 'ambiguous': 1, 'thin': 0}
    """
    for col, r in (rules or {}).items():
        r = r if isinstance(r, Rule) else parse_rule(str(r))
        if r.overlapping:  # one window per row: no fiber table for production rows to look up
            raise DcbError(f"rule {r.spec()} for '{col}' makes overlapping fibers, which a certificate cannot hold; "
                           "certify with a binned rule (quantile:N, width:W) or use replay with a tolerance")
    result = audit(source, evidence=evidence, action=action, weight=weight, min_support=min_support, nulls=nulls,
                   rules=rules, **kwargs)
    cert = Certificate.from_audit(result)
    cert.run_info = result.run_info  # what the engine did (``scheduler=``, ``checkpoint=`` go to the audit)
    return cert
