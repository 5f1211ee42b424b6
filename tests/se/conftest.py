from __future__ import annotations

import pytest

# The conformance suite lives in the package; let pytest explain its failures.
pytest.register_assert_rewrite("dfc.se.testing")
