"""`access.official_scope`: the one place a scope is narrowed, for commands and links."""

from __future__ import annotations

import pytest

from bot.models import Official
from handlers.officials import access
from tests.officials_helpers import STP_SCOPE, seed_agencies


async def test_narrowing_stays_inside_the_scope_and_refuses_alike_outside(database):
    ids = await seed_agencies(database)
    stp = Official(role=access.OFFICIAL, agency_id=ids["DNAI-STP"])
    province = Official(role=access.ADMIN, agency_id=None)
    async with database.transaction() as session:
        own = await access.official_scope(session, stp)
        assert (own.codes, own.root_code) == (STP_SCOPE, "DNAI-STP")
        unit = await access.official_scope(session, stp, " DNAI-STP-TTTG ")
        assert (unit.codes, unit.root_code) == (("DNAI-STP-TTTG",), "DNAI-STP-TTTG")
        merged = await access.official_scope(session, stp, "BPHUOC-STP")
        assert merged.codes == ("BPHUOC-PB", "BPHUOC-STP")  # with the merged agency's unit
        # A sibling and a code that does not exist get the same refusal, naming the code.
        for outside in ("DNAI-SYT", "NO-SUCH-AGENCY"):
            with pytest.raises(access.OutOfScope) as refused:
                await access.official_scope(session, stp, outside)
            assert refused.value.code == outside

        whole = await access.official_scope(session, province)
        assert whole.agency_ids is None and whole.root_code is None
        sibling = await access.official_scope(session, province, "DNAI-SYT")
        assert sibling.codes == ("DNAI-SYT",)


async def test_an_official_whose_agency_left_the_catalogue_sees_nothing(database):
    ids = await seed_agencies(database)
    gone = Official(role=access.OFFICIAL, agency_id=max(ids.values()) + 1)
    async with database.transaction() as session:
        for asked in (None, "DNAI-STP"):
            with pytest.raises(access.OutOfScope) as refused:
                await access.official_scope(session, gone, asked)
            assert refused.value.code is None  # the generic refusal, not "not in scope"
