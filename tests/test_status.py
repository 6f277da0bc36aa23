"""The status rules of CONTRACT.md: a group shows its worst child, a page shows one indicator."""

import pytest

from app.enums import ComponentStatus, IncidentImpact
from app.status import page_indicator, worst

OPERATIONAL = ComponentStatus.OPERATIONAL
DEGRADED = ComponentStatus.DEGRADED
PARTIAL = ComponentStatus.PARTIAL_OUTAGE
MAJOR = ComponentStatus.MAJOR_OUTAGE
MAINTENANCE = ComponentStatus.MAINTENANCE


@pytest.mark.parametrize(
    ("children", "shown"),
    [
        ([], OPERATIONAL),
        ([OPERATIONAL], OPERATIONAL),
        ([OPERATIONAL, OPERATIONAL], OPERATIONAL),
        ([OPERATIONAL, DEGRADED], DEGRADED),
        ([DEGRADED, PARTIAL, OPERATIONAL], PARTIAL),
        ([PARTIAL, MAJOR, DEGRADED], MAJOR),
        ([MAJOR, OPERATIONAL], MAJOR),
        ([OPERATIONAL, MAINTENANCE], MAINTENANCE),
        ([MAINTENANCE, MAINTENANCE], MAINTENANCE),
        ([MAINTENANCE, DEGRADED], DEGRADED),
        ([PARTIAL, MAINTENANCE], PARTIAL),
        ([MAINTENANCE, MAJOR, OPERATIONAL], MAJOR),
    ],
)
def test_a_group_shows_its_worst_child_and_maintenance_only_when_nothing_is_worse(children, shown):
    assert worst(children) == shown


def test_a_group_accepts_any_iterable_of_children():
    assert worst(s for s in (OPERATIONAL, DEGRADED)) == DEGRADED


CRITICAL = ("critical", "Major System Outage")
MAJOR_INDICATOR = ("major", "Partial System Outage")
MINOR = ("minor", "Minor Service Outage")
UNDER_MAINTENANCE = ("maintenance", "Service Under Maintenance")
NONE = ("none", "All Systems Operational")


@pytest.mark.parametrize(
    ("components", "impacts", "in_maintenance", "expected"),
    [
        # nothing wrong
        ([], [], False, NONE),
        ([OPERATIONAL, OPERATIONAL], [], False, NONE),
        # components alone
        ([OPERATIONAL, MAJOR], [], False, CRITICAL),
        ([OPERATIONAL, PARTIAL], [], False, MAJOR_INDICATOR),
        ([OPERATIONAL, DEGRADED], [], False, MINOR),
        ([OPERATIONAL, MAINTENANCE], [], False, UNDER_MAINTENANCE),
        # the worst component wins
        ([DEGRADED, PARTIAL, MAJOR], [], False, CRITICAL),
        ([DEGRADED, PARTIAL], [], False, MAJOR_INDICATOR),
        # unresolved incidents alone, every impact
        ([OPERATIONAL], [IncidentImpact.MAJOR], False, CRITICAL),
        ([OPERATIONAL], [IncidentImpact.PARTIAL], False, MAJOR_INDICATOR),
        ([OPERATIONAL], [IncidentImpact.DEGRADED], False, MINOR),
        ([OPERATIONAL], [IncidentImpact.MINOR], False, MINOR),
        ([], [IncidentImpact.MINOR, IncidentImpact.MAJOR], False, CRITICAL),
        # an incident raises the page above what its components show, and the reverse
        ([DEGRADED], [IncidentImpact.MAJOR], False, CRITICAL),
        ([MAJOR], [IncidentImpact.MINOR], False, CRITICAL),
        ([PARTIAL], [IncidentImpact.DEGRADED], False, MAJOR_INDICATOR),
        # maintenance in progress only when nothing is broken
        ([OPERATIONAL], [], True, UNDER_MAINTENANCE),
        ([DEGRADED], [], True, MINOR),
        ([OPERATIONAL], [IncidentImpact.MINOR], True, MINOR),
        ([PARTIAL, MAINTENANCE], [], True, MAJOR_INDICATOR),
        ([MAJOR], [], True, CRITICAL),
    ],
)
def test_the_page_indicator_follows_the_contract(components, impacts, in_maintenance, expected):
    shown = page_indicator(components, impacts, maintenance_in_progress=in_maintenance)

    assert (shown.indicator, shown.description) == expected
