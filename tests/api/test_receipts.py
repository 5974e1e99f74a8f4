"""Receipts: attachments on expenses, visible only to who sees the expense, gone when it is."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from api.models import Attachment, Expense, ExpenseActivity, Role
from api.outbox import OutboxDrainer
from tests.api.attachments_helpers import PDF, PNG
from tests.api.expense_helpers import URL, make_expense
from tests.conftest import auth_headers


@pytest.fixture
async def alice(make_user):
    return await make_user(Role.developer, full_name="Alice")


@pytest.fixture
async def bob(make_user):
    return await make_user(Role.tester, full_name="Bob")


async def attach(
    client, user, expense, name="receipt.pdf", data=PDF, content_type="application/pdf"
):
    return await client.post(
        f"{URL}/{expense['id']}/attachments",
        files={"file": (name, data, content_type)},
        headers=auth_headers(user),
    )


def stored_blobs(app) -> list:
    return [p for p in app.state.storage.root.rglob("*") if p.is_file()]


async def test_receipt_upload_list_download_and_history(client, alice, admin):
    expense = await make_expense(client, alice)
    r = await attach(client, alice, expense)
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert (receipt["expense_id"], receipt["bug_id"]) == (expense["id"], None)
    assert receipt["sha256"] == hashlib.sha256(PDF).hexdigest()
    for viewer in (alice, admin):
        listed = await client.get(
            f"{URL}/{expense['id']}/attachments", headers=auth_headers(viewer)
        )
        assert [a["id"] for a in listed.json()["items"]] == [receipt["id"]]
        got = await client.get(receipt["download_url"], headers=auth_headers(viewer))
        assert (got.status_code, got.content) == (200, PDF)
    history = await client.get(f"{URL}/{expense['id']}/history", headers=auth_headers(alice))
    assert [(h["field"], h["new"]) for h in history.json()["items"]][-1] == (
        "receipt",
        "receipt.pdf",
    )


async def test_someone_elses_receipts_are_404_and_untouched(client, db, alice, bob):
    expense = await make_expense(client, alice)
    receipt = (await attach(client, alice, expense)).json()
    h = auth_headers(bob)
    assert (await attach(client, bob, expense)).status_code == 404
    assert (await client.get(f"{URL}/{expense['id']}/attachments", headers=h)).status_code == 404
    assert (await client.get(receipt["download_url"], headers=h)).status_code == 404
    r = await client.delete(f"/api/v1/attachments/{receipt['id']}", headers=h)
    assert (r.status_code, r.json()["code"]) == (404, "attachment_not_found")
    assert await db.scalar(select(func.count()).select_from(Attachment)) == 1


async def test_a_deleted_expense_takes_no_receipts_but_keeps_its_own(client, db, alice, app):
    expense = await make_expense(client, alice)
    receipt = (await attach(client, alice, expense)).json()
    assert (
        await client.delete(f"{URL}/{expense['id']}", headers=auth_headers(alice))
    ).status_code == 204
    r = await attach(client, alice, expense, name="late.png", data=PNG, content_type="image/png")
    assert (r.status_code, r.json()["code"]) == (409, "expense_deleted")
    assert len(stored_blobs(app)) == 1  # the refused upload left no blob behind
    # soft-deleted is restorable, so its receipt is still there
    got = await client.get(receipt["download_url"], headers=auth_headers(alice))
    assert got.content == PDF


async def test_wrong_content_is_refused_and_stores_nothing(client, db, alice, app):
    expense = await make_expense(client, alice)
    r = await attach(client, alice, expense, data=b"MZ\x90\x00 evil", content_type="image/png")
    assert (r.status_code, r.json()["code"]) == (415, "content_type_mismatch")
    assert await db.scalar(select(func.count()).select_from(Attachment)) == 0
    assert stored_blobs(app) == []


async def test_deleting_a_receipt_is_recorded(client, alice, admin, bob):
    expense = await make_expense(client, alice)
    receipt = (await attach(client, alice, expense)).json()
    r = await client.delete(f"/api/v1/attachments/{receipt['id']}", headers=auth_headers(admin))
    assert r.status_code == 204
    history = await client.get(f"{URL}/{expense['id']}/history", headers=auth_headers(alice))
    last = history.json()["items"][-1]
    assert (last["field"], last["old"], last["new"]) == ("receipt", "receipt.pdf", None)
    listed = await client.get(f"{URL}/{expense['id']}/attachments", headers=auth_headers(alice))
    assert listed.json()["items"] == []


async def test_purging_an_expense_removes_it_its_history_and_its_receipts_blobs(
    client, db, alice, app, sessionmaker
):
    kept = await make_expense(client, alice, description="kept")
    await attach(client, alice, kept, name="kept.png", data=PNG, content_type="image/png")
    expense = await make_expense(client, alice)
    await attach(client, alice, expense)
    await attach(client, alice, expense, name="second.png", data=PNG, content_type="image/png")
    assert len(stored_blobs(app)) == 3
    stale = {**auth_headers(alice), "If-Match": '"999"'}
    r = await client.delete(f"{URL}/{expense['id']}", params={"purge": "true"}, headers=stale)
    assert r.status_code == 412
    r = await client.delete(
        f"{URL}/{expense['id']}", params={"purge": "true"}, headers=auth_headers(alice)
    )
    assert r.status_code == 204
    assert (
        await client.get(f"{URL}/{expense['id']}", headers=auth_headers(alice))
    ).status_code == 404
    assert await db.scalar(select(func.count()).where(Expense.id == expense["id"])) == 0
    assert (
        await db.scalar(select(func.count()).where(ExpenseActivity.expense_id == expense["id"]))
        == 0
    )
    assert await db.scalar(select(func.count()).select_from(Attachment)) == 1
    drainer = OutboxDrainer(
        sessionmaker, {"blob.delete": lambda p: app.state.storage.delete(p["key"])}
    )
    assert await drainer.run_once() == 2
    assert len(stored_blobs(app)) == 1  # only the other expense's receipt is left
