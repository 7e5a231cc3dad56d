"""The citizens trunk's outbound side (automatic call-back): an AOR only with a carrier."""

from __future__ import annotations

import pytest

from config.settings import load_settings
from telephony.asterisk_config import AsteriskConfigError, render
from tests.replay import E2E_CITY
from tests.telephony.test_asterisk_config import sections, site_for


@pytest.fixture
def city():
    return load_settings(E2E_CITY)


def _of_type(pjsip: str, kind: str) -> dict[str, dict[str, str]]:
    return {name: body for name, body in sections(pjsip) if body.get("type") == kind}


def test_with_a_carrier_the_citizens_endpoint_has_an_aor_with_its_contact(city):
    files = render(city, site_for(city, citizens_contact="sip:127.0.0.1:5090"))
    assert _of_type(files["pjsip.conf"], "endpoint")["citizens"]["aors"] == "citizens"
    assert _of_type(files["pjsip.conf"], "aor")["citizens"]["contact"] == "sip:127.0.0.1:5090"
    assert "HOTLINE_CALLBACK_CARRIER = sip:127.0.0.1:5090" in files["extensions.conf"]
    assert "Dial(PJSIP/${EXTEN}@citizens," in files["extensions.conf"]


def test_without_a_carrier_no_aor_and_the_dialplan_reports_nocarrier(city):
    files = render(city, site_for(city))
    assert "aors" not in _of_type(files["pjsip.conf"], "endpoint")["citizens"]
    assert "citizens" not in _of_type(files["pjsip.conf"], "aor")
    assert "Status: NOCARRIER" in files["extensions.conf"]


def test_a_carrier_that_is_not_a_sip_uri_is_refused(city):
    with pytest.raises(AsteriskConfigError, match="citizens_contact"):
        render(city, site_for(city, citizens_contact="127.0.0.1:5090"))
