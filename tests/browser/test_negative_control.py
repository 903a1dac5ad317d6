"""Negative controls: the harness must fail on broken widgets, or it proves nothing."""

from __future__ import annotations

import pytest

from .harness import HarnessFailure, run_widget_notebook


def test_harness_catches_cdn_request_and_js_error(lab, browser, screenshots):
    with pytest.raises(HarnessFailure) as failure:
        run_widget_notebook(browser, lab, "broken_widgets.ipynb", screenshots)
    message = str(failure.value)
    assert "cdn.jsdelivr.net" in message, message
    assert "deliberately broken widget" in message, message
