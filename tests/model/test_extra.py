"""The one line that says whether the model tests ran, and how to include them."""

from __future__ import annotations

import pytest

from tests.model.conftest import HAVE_EXTRA, IN_CI


def test_the_model_extra_is_installed_or_the_skip_says_how() -> None:
    if not HAVE_EXTRA:
        if IN_CI:
            pytest.fail("CI must run the model tests: .ci/run installs the [model] extra")
        pytest.skip("model tests not run: pip install -e '.[model]' to include them")
    import diffusers

    from backends.model.families import FAMILIES

    # Every family names a pipeline class this diffusers has.
    assert all(hasattr(diffusers, family.pipeline) for family in FAMILIES)
